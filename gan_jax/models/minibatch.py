"""Discriminator layers that look across the batch, against mode collapse.

A discriminator that sees one sample at a time cannot tell a generator that
makes one good image from one that makes many. These layers give it
statistics of the whole (per-device) batch:

- :class:`MinibatchDiscrimination` (Salimans et al. 2016): each sample's
  features are projected by a tensor T to B rows of C values, M_i; feature b
  of sample i is Σ_j exp(-‖M_i,b - M_j,b‖₁) over the other samples j, and
  the B features are appended to the sample's own.
- :class:`MinibatchStdDev` (Karras et al. 2018): the standard deviation of
  every feature over groups of ``group_size`` samples, averaged to one
  value per group and appended as one more channel.

Under ``parallel=pmap`` each device's layer sees the samples of that device;
under ``mesh`` and ``single``, the whole batch.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp


class MinibatchDiscrimination(nn.Module):
  """(batch, features) → (batch, features + num_kernels)."""

  num_kernels: int = 50
  kernel_dim: int = 5

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    t = self.param(
      "T",
      nn.initializers.normal(0.02),
      (x.shape[-1], self.num_kernels * self.kernel_dim),
    )
    m = (x @ t.astype(x.dtype)).reshape(-1, self.num_kernels, self.kernel_dim)
    distances = jnp.sum(jnp.abs(m[:, None] - m[None, :]), axis=-1)  # i, j, b
    # Σ over j ≠ i: the sample's similarity to itself, exp(0) = 1, is removed.
    o = jnp.sum(jnp.exp(-distances.astype(jnp.float32)), axis=1) - 1.0
    return jnp.concatenate([x, o.astype(x.dtype)], axis=-1)


class MinibatchStdDev(nn.Module):
  """(batch, ..., channels) → (batch, ..., channels + 1).

  The batch must divide into groups of ``group_size`` (or be smaller than
  one group, which then is the whole batch).
  """

  group_size: int = 4

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    n = x.shape[0]
    g = min(self.group_size, n)
    if n % g:
      raise ValueError(
        f"minibatch stddev groups of {g} do not divide a batch of {n}"
      )
    y = x.astype(jnp.float32).reshape(g, n // g, *x.shape[1:])
    std = jnp.sqrt(jnp.var(y, axis=0) + 1e-8)  # per group member and feature
    std = jnp.mean(std, axis=tuple(range(1, std.ndim)))  # one per group
    feature = jnp.tile(std, g).reshape(n, *([1] * (x.ndim - 1)))
    feature = jnp.broadcast_to(feature, (*x.shape[:-1], 1)).astype(x.dtype)
    return jnp.concatenate([x, feature], axis=-1)


def layer(kind: str, *, kernels: int, kernel_dim: int, group_size: int):
  """The batch layer of ``model.d_minibatch``: ``none``,
  ``discrimination`` or ``stddev``."""
  if kind == "discrimination":
    return MinibatchDiscrimination(kernels, kernel_dim)
  if kind == "stddev":
    return MinibatchStdDev(group_size)
  if kind == "none":
    return lambda x: x
  raise ValueError(f"unknown minibatch layer {kind!r}")
