"""MLP generator and discriminator for low-dimensional data (2-D mixtures)."""

import math

import flax.linen as nn
import jax

from gan_jax.models import minibatch
from gan_jax.models.layers import normalization, spectral


class Generator(nn.Module):
  out_shape: tuple[int, ...]
  hidden: int = 256
  depth: int = 3
  norm: str = "batch"
  momentum: float = 0.9
  axis_name: str | None = None

  @nn.compact
  def __call__(self, z: jax.Array, train: bool) -> jax.Array:
    x = z
    for _ in range(self.depth):
      x = nn.Dense(self.hidden)(x)
      x = normalization(
        self.norm, train, momentum=self.momentum, axis_name=self.axis_name
      )(x)
      x = nn.relu(x)
    x = nn.Dense(math.prod(self.out_shape))(x)
    return x.reshape((z.shape[0], *self.out_shape))


class Discriminator(nn.Module):
  hidden: int = 256
  depth: int = 3
  norm: str = "none"
  momentum: float = 0.9
  axis_name: str | None = None
  spectral_norm: bool = False
  minibatch: str = "none"
  minibatch_kernels: int = 50
  minibatch_kernel_dim: int = 5
  minibatch_group: int = 4

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    def dense(features):
      return spectral(nn.Dense(features), self.spectral_norm, train)

    x = x.reshape(x.shape[0], -1)
    for _ in range(self.depth):
      x = dense(self.hidden)(x)
      x = normalization(
        self.norm, train, momentum=self.momentum, axis_name=self.axis_name
      )(x)
      x = nn.leaky_relu(x, 0.2)
    x = minibatch.layer(
      self.minibatch,
      kernels=self.minibatch_kernels,
      kernel_dim=self.minibatch_kernel_dim,
      group_size=self.minibatch_group,
    )(x)
    return dense(1)(x).reshape(x.shape[0])
