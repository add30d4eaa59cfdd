"""PacGAN packing (Lin et al. 2018) as a wrapper of any discriminator.

The packed discriminator judges ``m`` samples at once: a batch of B
samples becomes B/m inputs, each the m samples concatenated along their
last axis (channels for images, features for vectors), and D returns one
output per pack. Real samples are packed with real, fake with fake, so a
generator that covers few modes makes packs that look alike, which D can
see. The wrapped model's code is untouched: packing is a function of its
inputs.
"""

import jax
import jax.numpy as jnp

from gan_jax.models.model import Model


def pack(x: jax.Array, m: int) -> jax.Array:
  """(B, ..., C) → (B/m, ..., m·C), sample k of a pack in channels
  [k·C, (k+1)·C)."""
  n = x.shape[0]
  if n % m:
    raise ValueError(f"a batch of {n} does not divide into packs of {m}")
  y = x.reshape(n // m, m, *x.shape[1:])
  y = jnp.moveaxis(y, 1, -2)
  return y.reshape(n // m, *x.shape[1:-1], m * x.shape[-1])


def packed(discriminator: Model, m: int) -> Model:
  """``discriminator`` judging packs of ``m`` samples."""
  if m == 1:
    return discriminator

  def init(key, x):
    return discriminator.init(key, pack(jnp.repeat(x[:1], m, axis=0), m))

  def apply(params, state, x, train):
    return discriminator.apply(params, state, pack(x, m), train)

  return Model(init, apply)
