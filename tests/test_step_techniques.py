"""Augmentation, regularizers, weight clipping, the generator's moving
average and the stability metrics, composed in the one train step."""

import dataclasses
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import config, keys, losses, run, train
from gan_jax import state as state_lib
from gan_jax.errors import ConfigError, TrainingDiverged
from gan_jax.losses import GanLoss
from tests.helpers import setup


def _first_step(cfg):
  strategy, step_fn, state, source, root = setup(cfg)
  batch = next(run.pipeline(cfg, source, strategy.put_batch))
  return step_fn, state, batch, root


def test_every_technique_composes_in_one_step(tiny_digits):
  cfg = tiny_digits
  cfg.parallel = "single"
  cfg.model.d_norm = "layer"
  cfg.model.d_spectral_norm = True
  cfg.model.d_minibatch = "stddev"
  cfg.model.pack = 2
  cfg.regularizers = "gp=10,gp_one_sided=1,r1=1,r2=1,dragan=1,bcr=1,lecam=0.3"
  cfg.augment = "color,translation,cutout"
  cfg.g_ema_decay = 0.9
  step_fn, state, batch, root = _first_step(cfg)
  init = jax.device_get(state)
  new, metrics = step_fn(state, batch, keys.step_key(root, 0))
  new, metrics = jax.device_get((new, metrics))
  for name in ("gp", "r1", "r2", "dragan", "bcr", "lecam"):
    assert np.isfinite(metrics[f"reg_{name}"]) and metrics[f"reg_{name}"] > 0
  for name in ("d_grad_norm", "g_grad_norm"):
    assert np.isfinite(metrics[name]) and metrics[name] > 0
  for name in ("d_acc_real", "d_acc_fake"):
    assert 0 <= metrics[name] <= 1
  # Spectral norm's power iteration moved u, in D's model state.
  assert not np.array_equal(
    jax.tree.leaves(init.d_state)[0], jax.tree.leaves(new.d_state)[0]
  )
  # LeCam's anchors moved 1% of the way to D's mean outputs.
  assert new.reg_state["lecam"]["real"] != 0
  # The moving average: 0.9·initial + 0.1·updated parameters.
  expected = jax.tree.map(
    lambda a, b: 0.9 * a + 0.1 * b, init.g_params, new.g_params
  )
  for a, b in zip(
    jax.tree.leaves(expected), jax.tree.leaves(new.g_ema_params), strict=True
  ):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_penalty_enters_the_loss_with_its_weight(tiny_digits):
  tiny_digits.parallel = "single"
  tiny_digits.model.d_norm = "none"
  values = {}
  for weight in (0, 5):
    tiny_digits.regularizers = f"r1={weight}"
    step_fn, state, batch, root = _first_step(tiny_digits)
    _, values[weight] = step_fn(state, batch, keys.step_key(root, 0))
  penalty = float(values[5]["reg_r1"])
  assert penalty > 0
  np.testing.assert_allclose(
    values[5]["d_loss"], values[0]["d_loss"] + 5 * penalty, rtol=1e-5
  )


def test_lazy_regularization_every_k_steps(tiny_digits):
  tiny_digits.parallel = "single"
  tiny_digits.model.d_norm = "none"
  tiny_digits.regularizers = "r1=1"
  every = {}
  for k in (1, 2):
    tiny_digits.reg_every = k
    step_fn, state, batch, root = _first_step(tiny_digits)
    state, first = step_fn(state, batch, keys.step_key(root, 0))
    _, second = step_fn(state, batch, keys.step_key(root, 1))
    every[k] = (float(first["reg_r1"]), float(second["reg_r1"]))
  # Step 0 is a regularization step, weighted ×2; step 1 is skipped.
  np.testing.assert_allclose(every[2][0], 2 * every[1][0], rtol=1e-5)
  assert every[2][1] == 0 and every[1][1] > 0


def test_weight_clipping_bounds_every_discriminator_parameter(tiny_digits):
  tiny_digits.parallel = "single"
  tiny_digits.loss = "wasserstein"
  tiny_digits.d_weight_clip = 0.01
  step_fn, state, batch, root = _first_step(tiny_digits)
  state, _ = step_fn(state, batch, keys.step_key(root, 0))
  leaves = jax.tree.leaves(jax.device_get(state.d_params))
  assert max(float(np.abs(x).max()) for x in leaves) == pytest.approx(0.01)


@pytest.mark.parametrize(
  "key, value, message",
  [
    ("regularizers", "r3=1", "regularizer 'r3' is not registered"),
    ("regularizers", "r1", "has no weight"),
    ("augment", "rotate", "augmentation 'rotate' is not registered"),
    ("g_ema_decay", "1.0", "must be in [0, 1)"),
    ("ada_target", "0.6", "adapts the probability of augment, which is empty"),
    ("augment_p", "1.5", "must be a probability in [0, 1]"),
  ],
)
def test_bad_technique_settings_are_one_line_errors(key, value, message):
  with pytest.raises(ConfigError, match=re.escape(message)) as e:
    config.validate(config.apply_overrides(config.Config(), [f"{key}={value}"]))
  assert "\n" not in str(e.value)


@pytest.mark.parametrize(
  "key, value", [("augment", "translation"), ("regularizers", "bcr=1")]
)
def test_augmenting_points_is_refused_before_anything_is_written(
  key, value, tmp_path
):
  cfg = config.apply_overrides(
    config.Config(), ["data.name=mog_ring", "model.arch=mlp", f"{key}={value}"]
  )
  with pytest.raises(ConfigError, match="needs images") as e:
    run.train(cfg, tmp_path / "run", progress=False)
  assert "\n" not in str(e.value)
  assert not (tmp_path / "run").exists()


def test_sampling_takes_the_average_of_params_that_are_one_array():
  # A model's parameters may be any pytree, one bare array included.
  trained, average = jnp.ones((3, 4)), jnp.zeros((3, 4))
  fields = {f.name: {} for f in dataclasses.fields(state_lib.GANState)}
  state = state_lib.GANState(**{**fields, "g_params": trained})
  with_average = state.replace(g_ema_params=average)
  assert state_lib.sampling_params(with_average) is average
  assert state_lib.sampling_params(state) is trained


def test_divergence_stops_and_keeps_the_last_good_checkpoint(
  tiny_digits, tmp_path
):
  tiny_digits.parallel = "single"
  run.train(tiny_digits, tmp_path, progress=False)  # Good: 8 steps.
  tiny_digits.steps = 12
  tiny_digits.divergence_limit = 1e-9  # Every loss is now "too large".
  with pytest.raises(TrainingDiverged) as e:
    run.train(tiny_digits, tmp_path, progress=False)
  message = str(e.value)
  assert "training diverged at step 10: d_loss=" in message
  assert "the last good checkpoint, step 8, is kept" in message
  assert "\n" not in message
  assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
    "4",
    "8",
  ]


def test_nan_loss_stops_the_command_with_exit_code_3(tmp_path, capsys):
  name = "nan_for_test"
  losses.LOSSES.register(name)(
    GanLoss(lambda r, f: jnp.mean(r) * jnp.nan, losses.non_saturating_generator)
  )
  code = train.main(
    [
      "--config",
      "experiments/dcgan_digits.py",
      "--workdir",
      str(tmp_path),
      "--no-progress",
      f"loss={name}",
      "model.width=8",
      "model.latent_dim=16",
      "steps=4",
      "log_every=2",
      "sample_every=4",
      "checkpoint_every=4",
      "eval.every=0",
    ]
  )
  err = capsys.readouterr().err
  assert code == 3, err
  assert "error: training diverged at step 2: d_loss=nan;" in err
  assert "no checkpoint was written" in err
  assert not (tmp_path / "checkpoints" / "4").exists()


def test_ada_adapts_the_augmentation_probability_in_the_state(tiny_digits):
  cfg = tiny_digits
  cfg.parallel = "single"
  cfg.augment, cfg.augment_p = "translation", 0.0
  cfg.ada_target, cfg.ada_kimg = 0.6, 1.0  # steps of 32/1000
  step_fn, state, batch, root = _first_step(cfg)
  assert float(state.augment_p) == 0.0

  def d_answers(state, verdict, p):
    """``state`` with ``augment_p`` = p and a D whose output is ``verdict``
    for every input: zero kernels, so its last layer's bias alone."""

    def leaf(path, x):
      name = path[-1].key
      if name == "kernel":
        return jnp.zeros_like(x)
      return jnp.full_like(x, verdict) if name == "bias" else x

    d_params = jax.tree_util.tree_map_with_path(leaf, state.d_params)
    return state.replace(d_params=d_params, augment_p=jnp.float32(p))

  # r_t = E[sign(D(real))] is 1 where D calls every real image real, above
  # the target: p rises by a step (from 0 too); -1 where it calls them all
  # fake, below the target: p falls by a step, and stays at 0 from 0.
  cases = [
    (1.0, 0.0, 0.032),
    (1.0, 0.5, 0.532),
    (-1.0, 0.5, 0.468),
    (-1.0, 0.0, 0.0),
  ]
  for i, (verdict, p, expected) in enumerate(cases):
    state = d_answers(state, verdict, p)
    state, metrics = step_fn(state, batch, keys.step_key(root, i))
    assert float(metrics["ada_rt"]) == verdict
    assert float(state.augment_p) == pytest.approx(expected)
    assert float(metrics["augment_p"]) == float(state.augment_p)


def test_the_readme_regularizer_registers_and_trains(tiny_digits):
  readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
  block = readme.split("def zero_centred_gp")[0].rsplit("```python", 1)[1]
  code = (
    block
    + "def zero_centred_gp"
    + readme.split("def zero_centred_gp")[1].split("```")[0]
  )

  exec(code, {"jax": jax, "jnp": jnp})  # noqa: S102 (the README's own code)
  tiny_digits.parallel = "single"
  tiny_digits.model.d_norm = "none"
  tiny_digits.regularizers = "gp0=10"
  step_fn, state, batch, root = _first_step(tiny_digits)
  _, metrics = step_fn(state, batch, keys.step_key(root, 0))
  assert float(metrics["reg_gp0"]) > 0
