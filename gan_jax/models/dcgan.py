"""DCGAN generator and discriminator (Radford et al. 2016) for R×R×C images.

R is a power of two from 8 to 128. The generator maps z to 4×4 with a dense
layer, then doubles the resolution with 4×4 stride-2 transposed convolutions,
halving the channels each time down to ``width`` at R/2, and ends with tanh.
The discriminator mirrors it with 4×4 stride-2 convolutions and LeakyReLU
0.2, no normalisation on its first layer, and a 4×4 valid convolution to one
logit per image.

``extra_layers`` adds that many 3×3 stride-1 convolution blocks (conv, norm,
activation) at the generator's last hidden resolution and after the
discriminator's first layer, as the DCGAN of the WGAN reference code does;
they deepen both players where few resolution blocks exist (8×8 digits).
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.models.layers import normalization, weight_init


def num_blocks(resolution: int) -> int:
  """Number of 2× resolution changes between 4×4 and R×R."""
  return int(math.log2(resolution)) - 2


class Generator(nn.Module):
  resolution: int
  channels: int
  width: int = 64
  norm: str = "batch"
  momentum: float = 0.9
  axis_name: str | None = None
  extra_layers: int = 0

  @nn.compact
  def __call__(self, z: jax.Array, train: bool) -> jax.Array:
    norm = lambda: normalization(
      self.norm, train, momentum=self.momentum, axis_name=self.axis_name
    )
    bias = self.norm == "none"
    c = self.width * 2 ** (num_blocks(self.resolution) - 1)
    x = nn.Dense(4 * 4 * c, use_bias=bias, kernel_init=weight_init)(z)
    x = nn.relu(norm()(x.reshape(-1, 4, 4, c)))
    for _ in range(num_blocks(self.resolution) - 1):
      c //= 2
      x = nn.ConvTranspose(
        c,
        (4, 4),
        strides=(2, 2),
        padding="SAME",
        use_bias=bias,
        kernel_init=weight_init,
      )(x)
      x = nn.relu(norm()(x))
    for _ in range(self.extra_layers):
      x = nn.Conv(
        c, (3, 3), padding="SAME", use_bias=bias, kernel_init=weight_init
      )(x)
      x = nn.relu(norm()(x))
    x = nn.ConvTranspose(
      self.channels,
      (4, 4),
      strides=(2, 2),
      padding="SAME",
      kernel_init=weight_init,
    )(x)
    return jnp.tanh(x)


class Discriminator(nn.Module):
  resolution: int
  width: int = 64
  norm: str = "batch"
  momentum: float = 0.9
  axis_name: str | None = None
  extra_layers: int = 0

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    def block(x, c, kernel, stride):
      x = nn.Conv(
        c,
        kernel,
        strides=stride,
        padding="SAME",
        use_bias=self.norm == "none",
        kernel_init=weight_init,
      )(x)
      x = normalization(
        self.norm,
        train,
        momentum=self.momentum,
        axis_name=self.axis_name,
        feature_axes=(-3, -2, -1),
      )(x)
      return nn.leaky_relu(x, 0.2)

    c = self.width
    x = nn.Conv(
      c, (4, 4), strides=(2, 2), padding="SAME", kernel_init=weight_init
    )(x)
    x = nn.leaky_relu(x, 0.2)
    for _ in range(self.extra_layers):
      x = block(x, c, (3, 3), (1, 1))
    for _ in range(num_blocks(self.resolution) - 1):
      c *= 2
      x = block(x, c, (4, 4), (2, 2))
    x = nn.Conv(1, (4, 4), padding="VALID", kernel_init=weight_init)(x)
    return x.reshape(x.shape[0])
