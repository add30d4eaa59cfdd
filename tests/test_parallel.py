"""One step at any scale: 1 device, a 4-device mesh and pmap over 4 agree.

Tolerance: after 5 steps the parameters, BatchNorm statistics and optimizer
states agree within 1e-6 absolute (measured: under 1e-7). They differ only
through the order of floating-point sums across devices.
"""

import copy

import jax
import numpy as np
import pytest

from gan_jax import config, keys, run
from gan_jax.errors import ConfigError
from gan_jax.parallel import make
from tests.helpers import setup, train_steps, trees_differ

ATOL = 1e-6


def _assert_close(a, b):
  assert not trees_differ(a, b, atol=ATOL)


@pytest.fixture(scope="module")
def reference():
  """Five steps on one device; an extra layer gives D BatchNorm statistics."""
  cfg = config.Config(parallel="single")
  cfg.model.width, cfg.model.latent_dim, cfg.batch_size = 8, 16, 32
  cfg.model.d_extra_layers = 1
  cfg.n_critic = 2
  return cfg, train_steps(cfg, 5)


@pytest.mark.parametrize("strategy", ["mesh", "pmap"])
def test_four_devices_match_one(reference, strategy):
  cfg, (one_state, one_metrics) = reference
  cfg = copy.deepcopy(cfg)
  cfg.parallel, cfg.num_devices = strategy, 4
  state, metrics = train_steps(cfg, 5)
  _assert_close(one_state, state)
  _assert_close(one_metrics, metrics)
  # Both players' BatchNorm statistics (those of the global batch) moved
  # away from their initial values, and matched above.
  for stats in (one_state.g_state, one_state.d_state):
    means = [
      x
      for p, x in jax.tree_util.tree_leaves_with_path(stats)
      if "mean" in jax.tree_util.keystr(p)
    ]
    assert means and all(np.abs(m).max() > 1e-4 for m in means)


@pytest.mark.parametrize("strategy", ["mesh", "pmap"])
def test_batch_must_split_over_devices(strategy):
  with pytest.raises(ConfigError, match="multiple of 4"):
    make(strategy, num_devices=4, batch_size=30)


def test_too_many_devices_is_a_config_error():
  with pytest.raises(ConfigError, match="num_devices=64"):
    make("mesh", num_devices=64, batch_size=64)


@pytest.fixture(scope="module")
def techniques():
  """Three steps on one device with augmentation, stateful and lazy
  regularizers, spectral norm, packing and a generator average."""
  cfg = config.Config(parallel="single")
  cfg.model.width, cfg.model.latent_dim, cfg.batch_size = 8, 16, 32
  cfg.model.d_norm, cfg.model.d_spectral_norm, cfg.model.pack = "none", True, 2
  cfg.augment, cfg.regularizers = "translation,cutout", "r1=1,lecam=0.3"
  cfg.reg_every, cfg.g_ema_decay = 2, 0.9
  return cfg, train_steps(cfg, 3)


def test_techniques_give_the_same_run_on_a_mesh(techniques):
  cfg, (one_state, one_metrics) = techniques
  cfg = copy.deepcopy(cfg)
  cfg.parallel, cfg.num_devices = "mesh", 4
  state, metrics = train_steps(cfg, 3)
  _assert_close(one_state, state)
  _assert_close(one_metrics, metrics)


def test_techniques_under_pmap_keep_the_state_replicated(techniques):
  cfg, _ = techniques
  cfg = copy.deepcopy(cfg)
  cfg.parallel, cfg.num_devices = "pmap", 4
  strategy, step_fn, state, source, root = setup(cfg)

  batches = run.pipeline(cfg, source, strategy.put_batch)
  for i in range(3):
    state, metrics = step_fn(state, next(batches), keys.step_key(root, i))
  # Every device holds the same LeCam anchors and generator average.
  for tree in (state.reg_state, state.g_ema_params, state.d_params):
    for leaf in jax.tree.leaves(tree):
      leaf = np.asarray(leaf)
      np.testing.assert_allclose(leaf, np.broadcast_to(leaf[:1], leaf.shape))
  assert np.all(np.isfinite(np.asarray(metrics["reg_lecam"])))


@pytest.mark.parametrize("strategy", ["mesh", "pmap"])
def test_a_conditional_run_is_the_same_on_four_devices(strategy):
  """Labels are split with their images: cBN, an ACGAN head and R1."""
  cfg = config.Config(parallel="single")
  cfg.model.width, cfg.model.latent_dim, cfg.batch_size = 8, 16, 32
  cfg.model.g_cond, cfg.model.d_cond = "cbn", "acgan"
  cfg.model.conv_impl = "xla"  # The default's are in the tests above.
  cfg.regularizers = "r1=1"
  one_state, one_metrics = train_steps(cfg, 3)
  cfg.parallel, cfg.num_devices = strategy, 4
  state, metrics = train_steps(cfg, 3)
  _assert_close(one_state, state)
  _assert_close(one_metrics, metrics)
  assert one_metrics["d_class_loss"] > 0
