"""Model shapes, normalisation choices and the (init, apply) protocol."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import config, models
from gan_jax.errors import ConfigError


def _build(resolution, channels, **overrides):
  cfg = config.ModelConfig(width=4, latent_dim=8)
  for k, v in overrides.items():
    setattr(cfg, k, v)
  return models.build(cfg, (resolution, resolution, channels))


@pytest.mark.parametrize("resolution", [8, 16, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(resolution, channels):
  """Shapes only, traced without compiling (training tests run the models)."""
  g, d = _build(resolution, channels)

  def shapes(key):
    z = jax.random.normal(key, (2, 8))
    g_params, g_state = g.init(key, z)
    x, _ = g.apply(g_params, g_state, z, True)
    d_params, d_state = d.init(key, x)
    logits, _ = d.apply(d_params, d_state, x, True)
    return x, logits

  x, logits = jax.eval_shape(shapes, jax.random.key(0))
  assert x.shape == (2, resolution, resolution, channels)
  assert logits.shape == (2,)


@pytest.mark.parametrize(
  "d_norm,has_stats", [("batch", True), ("layer", False), ("none", False)]
)
def test_discriminator_normalisation(d_norm, has_stats):
  _, d = _build(16, 1, d_norm=d_norm)
  x = jax.random.normal(jax.random.key(0), (4, 16, 16, 1))
  params, state = d.init(jax.random.key(1), x)
  assert ("batch_stats" in state) == has_stats
  logits, _ = d.apply(params, state, x, True)
  assert logits.shape == (4,) and bool(jnp.all(jnp.isfinite(logits)))


def test_batchnorm_state_updates_only_in_training():
  g, _ = _build(8, 1)
  z = jax.random.normal(jax.random.key(0), (16, 8))
  params, state = g.init(jax.random.key(1), z)
  _, trained = g.apply(params, state, z, True)
  _, inferred = g.apply(params, state, z, False)
  changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), state, trained)
  assert any(jax.tree.leaves(changed))
  assert jax.tree.all(jax.tree.map(np.array_equal, state, inferred))


def test_width_sets_channels():
  g, _ = _build(32, 3, width=16)
  params, _ = jax.eval_shape(g.init, jax.random.key(0), jnp.zeros((1, 8)))
  # 4×4×64 after the dense layer, then 32 and 16 channels, then 3.
  assert params["Dense_0"]["kernel"].shape == (8, 4 * 4 * 64)
  assert params["ConvTranspose_0"]["kernel"].shape[-1] == 32
  assert params["ConvTranspose_2"]["kernel"].shape[-1] == 3


def test_mlp_shapes():
  cfg = config.ModelConfig(arch="mlp", hidden=32, depth=2, latent_dim=2)
  g, d = models.build(cfg, (2,))
  z = jnp.ones((5, 2))
  g_params, g_state = g.init(jax.random.key(0), z)
  x, _ = g.apply(g_params, g_state, z, True)
  assert x.shape == (5, 2)
  d_params, d_state = d.init(jax.random.key(1), x)
  assert d.apply(d_params, d_state, x, True)[0].shape == (5,)


@pytest.mark.parametrize(
  "shape,fix",
  [
    ((8, 16, 1), "or make your source's examples square"),
    ((256, 256, 3), "resize it with data.image_size"),
    ((12, 12, 1), "resize it with data.image_size"),
    ((2,), "use model.arch=mlp for vector data"),
  ],
)
def test_dcgan_rejects_unsupported_shapes_saying_what_to_do(shape, fix):
  with pytest.raises(ConfigError, match="dcgan") as e:
    models.build(config.ModelConfig(), shape)
  assert str(e.value).endswith(fix)


def test_extra_layers_deepen_each_player_separately():
  g, d = _build(8, 1, g_extra_layers=2, d_extra_layers=1)
  z = jnp.zeros((2, 8))
  g_params, g_state = g.init(jax.random.key(0), z)
  assert [g_params[f"Conv_{i}"]["kernel"].shape for i in range(2)] == [
    (3, 3, 4, 4)
  ] * 2
  assert len(g_state["batch_stats"]) == 3  # Dense, then the two 3×3 blocks.
  d_params, d_state = d.init(jax.random.key(1), jnp.zeros((2, 8, 8, 1)))
  assert d_params["Conv_1"]["kernel"].shape == (3, 3, 4, 4)
  assert len(d_state["batch_stats"]) == 1  # At 8×8, only the extra block.
