"""The generator's noise distribution."""

import jax
import jax.numpy as jnp


def sample(dist: str, key: jax.Array, n: int, dim: int) -> jax.Array:
  """``n`` latent vectors of size ``dim``: N(0, I) or U(-1, 1)."""
  if dist == "normal":
    return jax.random.normal(key, (n, dim), jnp.float32)
  if dist == "uniform":
    return jax.random.uniform(key, (n, dim), jnp.float32, -1.0, 1.0)
  raise ValueError(f"unknown latent distribution {dist!r}")
