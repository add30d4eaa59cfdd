"""Mixed precision: bfloat16 compute, float32 parameters and losses."""

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import config, models
from tests.helpers import train_steps


def test_bfloat16_computes_in_bfloat16_and_keeps_float32_state():
  cfg = config.load("experiments/dcgan_digits.py", ["model.precision=bfloat16"])
  g, d = models.build(cfg.model, (8, 8, 1))
  z = jnp.ones((2, cfg.model.latent_dim))
  params, state = g.init(jax.random.key(0), z)
  assert {x.dtype for x in jax.tree.leaves((params, state))} == {
    np.dtype("float32")
  }
  hlo = (
    jax.jit(lambda p, z: g.apply(p, state, z, True)[0])
    .lower(params, z)
    .as_text()
  )
  assert "bf16" in hlo  # The matrix multiplications run in bfloat16,
  images, _ = g.apply(params, state, z, True)
  assert images.dtype == jnp.float32  # and the networks return float32.
  logits, _ = d.apply(*d.init(jax.random.key(1), images), images, True)
  assert logits.dtype == jnp.float32


def test_bfloat16_trains_close_to_float32():
  runs = {}
  for precision in ("float32", "bfloat16"):
    cfg = config.load(
      "experiments/dcgan_digits.py", [f"model.precision={precision}"]
    )
    runs[precision] = train_steps(cfg, 5)
  (_, m32), (s16, m16) = runs["float32"], runs["bfloat16"]
  for key in ("d_loss", "g_loss"):
    assert np.isfinite(m16[key])
    np.testing.assert_allclose(m16[key], m32[key], rtol=0.1)
  assert {x.dtype for x in jax.tree.leaves(s16.g_params)} == {
    np.dtype("float32")
  }
