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


def truncated(
  dist: str, key: jax.Array, n: int, dim: int, threshold: float
) -> jax.Array:
  """The truncation trick (Brock et al. 2019): N(0, I) with every value
  redrawn until it lies in [-threshold, threshold] (a truncated normal), or
  U(-t, t) with t = min(threshold, 1) for uniform noise. Lower thresholds
  trade variety for fidelity; 0 means no truncation."""
  if threshold <= 0:
    return sample(dist, key, n, dim)
  if dist == "normal":
    return jax.random.truncated_normal(
      key, -threshold, threshold, (n, dim), jnp.float32
    )
  t = min(threshold, 1.0)
  return jax.random.uniform(key, (n, dim), jnp.float32, -t, t)


def of_seed(dist: str, seed: int, dim: int, threshold: float = 0.0):
  """The latent vector named by ``seed`` (shape (dim,)): the same seed gives
  the same vector in every run, so grids compare across checkpoints."""
  return truncated(dist, jax.random.key(seed), 1, dim, threshold)[0]


def interpolate(dist: str, a: jax.Array, b: jax.Array, steps: int):
  """``steps`` vectors from ``a`` to ``b`` (both included): spherical for
  Gaussian noise, which keeps the norms typical of the prior, linear for
  uniform noise."""
  t = jnp.linspace(0.0, 1.0, steps)[:, None]
  if dist != "normal":
    return (1 - t) * a + t * b
  cos = jnp.dot(a, b) / (jnp.linalg.norm(a) * jnp.linalg.norm(b))
  omega = jnp.arccos(jnp.clip(cos, -1.0, 1.0))
  sin = jnp.sin(omega)
  if float(sin) < 1e-6:  # (anti)parallel: the arc is not defined
    return (1 - t) * a + t * b
  return (jnp.sin((1 - t) * omega) * a + jnp.sin(t * omega) * b) / sin
