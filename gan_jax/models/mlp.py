"""MLP generator and discriminator for low-dimensional data (2-D mixtures).

``num_classes`` > 0 makes both conditional (:mod:`.conditioning`): G takes
``(z, y)`` (``cond="cbn"``: conditional BatchNorm in its hidden layers;
``concat``: one-hot labels appended to z), D takes ``(x, y)`` and
conditions on its last hidden features (``projection`` or ``acgan``).
"""

import math

import flax.linen as nn
import jax

from gan_jax.models import conditioning, minibatch
from gan_jax.models.layers import normalization, spectral


class Generator(nn.Module):
  out_shape: tuple[int, ...]
  hidden: int = 256
  depth: int = 3
  norm: str = "batch"
  momentum: float = 0.9
  axis_name: str | None = None
  num_classes: int = 0
  cond: str = "none"

  @nn.compact
  def __call__(self, z: jax.Array, train: bool) -> jax.Array:
    z, y = conditioning.split(z)
    x = conditioning.generator_input(z, y, self.cond, self.num_classes)
    for _ in range(self.depth):
      x = nn.Dense(self.hidden)(x)
      x = conditioning.generator_norm(
        self.norm,
        y,
        train,
        cond=self.cond,
        num_classes=self.num_classes,
        momentum=self.momentum,
        axis_name=self.axis_name,
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
  num_classes: int = 0
  cond: str = "none"

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    x, y = conditioning.split(x)

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
    return conditioning.head(
      x,
      dense(1)(x).reshape(x.shape[0]),
      y,
      cond=self.cond,
      num_classes=self.num_classes,
      spectral_norm=self.spectral_norm,
      train=train,
    )
