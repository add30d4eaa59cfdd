"""Layers that look across the batch, and PacGAN packing, by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import config, run
from gan_jax.errors import ConfigError
from gan_jax.models import Model, minibatch, packing


def test_minibatch_discrimination_by_hand():
  layer = minibatch.MinibatchDiscrimination(num_kernels=3, kernel_dim=2)
  x = jax.random.normal(jax.random.key(0), (5, 4))
  params = layer.init(jax.random.key(1), x)
  t = np.asarray(params["params"]["T"], np.float64)
  out = np.asarray(layer.apply(params, x))
  m = (np.asarray(x, np.float64) @ t).reshape(5, 3, 2)
  expected = np.zeros((5, 3))
  for i in range(5):
    for j in range(5):
      if i != j:
        expected[i] += np.exp(-np.abs(m[i] - m[j]).sum(-1))
  np.testing.assert_allclose(out[:, :4], x)
  np.testing.assert_allclose(out[:, 4:], expected, rtol=1e-5)
  # Identical samples are each as close as can be to all n - 1 others.
  same = layer.apply(params, jnp.ones((5, 4)))
  np.testing.assert_allclose(same[:, 4:], 4.0)


def test_minibatch_stddev_by_hand():
  x = jax.random.normal(jax.random.key(2), (8, 2, 2, 3))
  out = np.asarray(minibatch.MinibatchStdDev(4).apply({}, x))
  assert out.shape == (8, 2, 2, 4)
  np.testing.assert_array_equal(out[..., :3], x)
  xs = np.asarray(x, np.float64)
  for i in range(8):
    group = xs[i % 2 :: 2]  # samples i, i ± 2, ...: 4 of them
    expected = np.mean(np.sqrt(np.var(group, axis=0) + 1e-8))
    np.testing.assert_allclose(out[i, ..., 3], expected, rtol=1e-5)
  with pytest.raises(ValueError, match="do not divide"):
    minibatch.MinibatchStdDev(3).apply({}, x)


def test_pack_puts_m_samples_side_by_side_in_channels():
  x = jnp.arange(6 * 2 * 2 * 3.0).reshape(6, 2, 2, 3)
  y = np.asarray(packing.pack(x, 3))
  assert y.shape == (2, 2, 2, 9)
  for p in range(2):
    for k in range(3):
      np.testing.assert_array_equal(y[p, ..., 3 * k : 3 * k + 3], x[3 * p + k])
  vectors = jnp.arange(8.0).reshape(4, 2)
  np.testing.assert_array_equal(
    packing.pack(vectors, 2), [[0, 1, 2, 3], [4, 5, 6, 7]]
  )


def test_packed_discriminator_judges_packs():
  def init(key, x):
    return {"w": jax.random.normal(key, (x.shape[-1],))}, {}

  def apply(params, state, x, train):
    return x @ params["w"], state

  d = packing.packed(Model(init, apply), 2)
  x = jax.random.normal(jax.random.key(3), (6, 5))
  params, _ = d.init(jax.random.key(4), x[:1])
  assert params["w"].shape == (10,)
  out, _ = d.apply(params, {}, x, True)
  np.testing.assert_allclose(
    out, np.asarray(x).reshape(3, 10) @ params["w"], rtol=1e-6
  )
  assert packing.packed(Model(init, apply), 1).init is init


def _ring(**model):
  cfg = config.Config()
  cfg.data.name, cfg.model.arch = "mog_ring", "mlp"
  cfg.batch_size, cfg.model.hidden, cfg.model.depth = 12, 8, 1
  for k, v in model.items():
    setattr(cfg.model, k, v)
  return cfg


@pytest.mark.parametrize(
  "model, message",
  [
    ({"pack": 5}, "does not divide into packs of model.pack=5"),
    (
      {"pack": 2, "d_minibatch": "stddev", "minibatch_group": 4},
      "do not divide into groups of model.minibatch_group=4",
    ),
  ],
)
def test_packs_and_groups_must_divide_the_batch(model, message):
  with pytest.raises(ConfigError, match=message):
    run.assemble(_ring(**model))


@pytest.mark.parametrize("kind", ["discrimination", "stddev"])
def test_ring_trains_with_packing_and_a_minibatch_layer(kind):
  from tests.helpers import train_steps

  cfg = _ring(pack=2, d_minibatch=kind, minibatch_group=2)
  cfg.parallel = "single"
  state, metrics = train_steps(cfg, 3)
  assert int(state.step) == 3
  assert all(np.isfinite(float(v)) for v in metrics.values())
  # D's first layer sees two 2-D samples at once; its last, the batch
  # features too.
  assert state.d_params["Dense_0"]["kernel"].shape == (4, 8)
  extra = 50 if kind == "discrimination" else 1
  assert state.d_params["Dense_1"]["kernel"].shape == (8 + extra, 1)
