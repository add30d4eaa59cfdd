"""SNGAN's ResNets and SAGAN's self-attention block."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import config, models
from gan_jax.errors import ConfigError
from gan_jax.models import attention, resnet


def _count(tree) -> int:
  return sum(x.size for x in jax.tree.leaves(tree))


@pytest.mark.parametrize(
  "res, width, g_params, d_params",
  # SNGAN's CIFAR-10 networks (w = 128) and the 64×64 ones (w = 64); the
  # counts follow from the layers the module's docstring lists, and pin
  # them.
  [(32, 128, 4_276_739, 1_053_825), (64, 64, 12_220_675, 19_542_721)],
)
def test_sngan_networks_have_their_layers(res, width, g_params, d_params):
  g = resnet.Generator(resolution=res, channels=3, width=width)
  d = resnet.Discriminator(resolution=res, width=width)
  z, x = jnp.zeros((2, 128)), jnp.zeros((2, res, res, 3))
  g_vars = jax.eval_shape(lambda: g.init(jax.random.key(0), z, False))
  d_vars = jax.eval_shape(lambda: d.init(jax.random.key(0), x, False))
  assert _count(g_vars["params"]) == g_params
  assert _count(d_vars["params"]) == d_params
  fake = jax.eval_shape(lambda v, z: g.apply(v, z, False), g_vars, z)
  assert fake.shape == (2, res, res, 3)
  assert jax.eval_shape(lambda v, x: d.apply(v, x, False), d_vars, x).shape == (
    2,
  )
  # Spectral norm keeps one power-iteration vector per D layer as state.
  sn = [k for k in jax.tree_util.tree_leaves_with_path(d_vars["batch_stats"])]
  assert len(sn) == 2 * sum(
    1 for p in jax.tree.leaves(d_vars["params"]) if p.ndim > 1
  )


def test_self_attention_starts_as_the_identity_and_mixes_positions():
  block = attention.SelfAttention()
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 16))
  params = block.init(jax.random.key(1), x)
  np.testing.assert_array_equal(block.apply(params, x), x)  # γ = 0
  params = jax.tree.map(lambda p: p, params)
  params["params"]["gamma"] = jnp.float32(1.0)
  y = block.apply(params, x)
  # Changing one position changes the output at every position.
  x2 = x.at[:, 0, 0].add(1.0)
  delta = np.abs(np.asarray(block.apply(params, x2) - y)).sum(-1)
  assert np.all(delta[:, 1:, 1:] > 0)


def test_self_attention_computes_in_bfloat16_when_asked():
  block = attention.SelfAttention(dtype=jnp.bfloat16)
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 16), jnp.bfloat16)
  params = block.init(jax.random.key(1), x)
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(params))
  params["params"]["gamma"] = jnp.float32(1.0)
  y, seen = block.apply(params, x, capture_intermediates=True)
  assert y.dtype == jnp.bfloat16
  convs = {
    k: v["__call__"][0]
    for k, v in seen["intermediates"].items()
    if k != "__call__"
  }
  assert set(convs) == {"theta", "phi", "g", "o"}
  assert all(v.dtype == jnp.bfloat16 for v in convs.values())


def _trains(tiny_digits, **model):
  from tests.helpers import train_steps

  tiny_digits.model.arch = "resnet"
  tiny_digits.parallel = "single"
  for k, v in model.items():
    setattr(tiny_digits.model, k, v)
  state, metrics = train_steps(tiny_digits, 2)
  assert all(np.isfinite(float(v)) for v in metrics.values())
  return state


def test_resnet_gan_with_attention_trains_on_digits(tiny_digits):
  tiny_digits.data.image_size = 16
  # XLA's convolutions compile in a fraction of the time at this size.
  state = _trains(
    tiny_digits, attention_res=8, d_spectral_norm=True, conv_impl="xla"
  )
  assert "SelfAttention_0" in state.g_params
  assert "SelfAttention_0" in state.d_params


def test_resnet_refuses_what_it_cannot_build():
  cfg = dataclasses.replace(config.ModelConfig(), arch="resnet")
  with pytest.raises(ConfigError, match="supports resolutions 8, 16, 32"):
    models.build(cfg, (128, 128, 3))
  with pytest.raises(ConfigError, match=r"attention_res=5 .* \(8, 16\)"):
    models.build(dataclasses.replace(cfg, attention_res=5), (32, 32, 3))


@pytest.mark.parametrize(
  "arch, setting",
  [
    ("resnet", {"d_minibatch": "stddev"}),
    ("resnet", {"d_norm": "layer"}),
    ("resnet", {"g_norm": "none"}),
    ("resnet", {"g_extra_layers": 1}),
    ("mlp", {"precision": "bfloat16"}),
    ("mlp", {"attention_res": 8}),
    ("dcgan", {"attention_res": 8}),
  ],
)
def test_settings_an_architecture_ignores_are_refused(arch, setting):
  cfg = dataclasses.replace(config.ModelConfig(), arch=arch, **setting)
  (name,) = setting
  with pytest.raises(ConfigError, match=rf"model.{name}=.* no effect"):
    models.build(cfg, (16, 16, 1))
