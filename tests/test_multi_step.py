"""Several steps per call train exactly as one step per call."""

from gan_jax import config, run
from tests.helpers import trees_differ


def _cfg(**overrides):
  cfg = config.load("experiments/mog_ring.py", [])
  cfg.steps, cfg.log_every, cfg.sample_every, cfg.checkpoint_every = 4, 2, 4, 4
  cfg.n_critic, cfg.eval.every = 2, 0
  for key, value in overrides.items():
    setattr(cfg, key, value)
  return cfg


def test_two_steps_per_call_equal_two_calls(tmp_path):
  one = run.train(_cfg(), tmp_path / "one", progress=False).state
  four = run.train(_cfg(steps_per_call=2), tmp_path / "two", progress=False)
  assert four.step == 4
  assert trees_differ(one, four.state, atol=0) == []  # Bitwise on CPU.


def test_intervals_must_be_multiples_of_steps_per_call(tmp_path):
  import pytest

  from gan_jax.errors import ConfigError

  with pytest.raises(
    ConfigError, match="log_every=6 is not a multiple of steps_per_call=4"
  ):
    run.train(
      _cfg(steps_per_call=4, log_every=6), tmp_path / "w", progress=False
    )
  assert not (tmp_path / "w").exists()


def test_a_convolutional_step_per_call_agrees_to_rounding(
  tiny_digits, tmp_path
):
  # With BatchNorm and n_critic=2, XLA compiles the DCGAN step differently
  # inside the scan: the same keys and data, float32 rounding apart.
  tiny_digits.steps, tiny_digits.n_critic, tiny_digits.eval.every = 4, 2, 0
  tiny_digits.parallel = "single"
  one = run.train(tiny_digits, tmp_path / "one", progress=False).state
  tiny_digits.steps_per_call = 2
  two = run.train(tiny_digits, tmp_path / "two", progress=False)
  assert two.step == 4
  assert trees_differ(one, two.state, atol=1e-6) == []
