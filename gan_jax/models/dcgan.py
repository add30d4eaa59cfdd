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

``spectral_norm`` normalises every discriminator layer by its spectral norm
(:func:`gan_jax.models.layers.spectral`); ``minibatch`` adds a layer that
looks across the batch before the last one (:mod:`gan_jax.models.minibatch`).
``num_classes`` > 0 makes both conditional (:mod:`.conditioning`): G takes
``(z, y)`` and conditions by ``g_cond`` (``cbn`` replaces every BatchNorm
by a conditional one, ``concat`` appends one-hot labels to z); D takes
``(images, y)`` and conditions by ``d_cond`` on its last features (the
flattened 4×4 map, or the minibatch-discrimination features).
``conv_impl`` picks how the convolutions are computed
(:mod:`gan_jax.models.convolutions`); the parameters and the function are
the same either way. ``dtype`` is the computation dtype (``bfloat16`` for
mixed precision); parameters stay float32, BatchNorm statistics are
reduced in float32, and both networks return float32.
"""

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.models import conditioning, minibatch
from gan_jax.models.convolutions import conv_layers
from gan_jax.models.layers import (
  leaky_relu,
  normalization,
  spectral,
  weight_init,
)


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
  conv_impl: str = "xla"
  dtype: Any = None
  num_classes: int = 0
  cond: str = "none"

  @nn.compact
  def __call__(self, z: jax.Array, train: bool) -> jax.Array:
    Conv, ConvTranspose = conv_layers(self.conv_impl, self.dtype)
    z, y = conditioning.split(z)
    z = conditioning.generator_input(z, y, self.cond, self.num_classes)

    def norm():
      return conditioning.generator_norm(
        self.norm,
        y,
        train,
        cond=self.cond,
        num_classes=self.num_classes,
        momentum=self.momentum,
        axis_name=self.axis_name,
        dtype=self.dtype,
      )

    bias = self.norm == "none"
    c = self.width * 2 ** (num_blocks(self.resolution) - 1)
    x = nn.Dense(
      4 * 4 * c, use_bias=bias, kernel_init=weight_init, dtype=self.dtype
    )(z)
    x = nn.relu(norm()(x.reshape(-1, 4, 4, c)))
    for _ in range(num_blocks(self.resolution) - 1):
      c //= 2
      x = ConvTranspose(
        c,
        (4, 4),
        strides=(2, 2),
        padding="SAME",
        use_bias=bias,
        kernel_init=weight_init,
      )(x)
      x = nn.relu(norm()(x))
    for _ in range(self.extra_layers):
      x = Conv(
        c, (3, 3), padding="SAME", use_bias=bias, kernel_init=weight_init
      )(x)
      x = nn.relu(norm()(x))
    x = ConvTranspose(
      self.channels,
      (4, 4),
      strides=(2, 2),
      padding="SAME",
      kernel_init=weight_init,
    )(x)
    return jnp.tanh(x).astype(jnp.float32)


class Discriminator(nn.Module):
  resolution: int
  width: int = 64
  norm: str = "batch"
  momentum: float = 0.9
  axis_name: str | None = None
  extra_layers: int = 0
  conv_impl: str = "xla"
  dtype: Any = None
  spectral_norm: bool = False
  minibatch: str = "none"
  minibatch_kernels: int = 50
  minibatch_kernel_dim: int = 5
  minibatch_group: int = 4
  num_classes: int = 0
  cond: str = "none"

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    Plain, _ = conv_layers(self.conv_impl, self.dtype)
    x, y = conditioning.split(x)

    def Conv(*args, **kwargs):  # A layer constructor, as Plain is.
      return spectral(Plain(*args, **kwargs), self.spectral_norm, train)

    def block(x, c, kernel, stride):
      x = Conv(
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
        dtype=self.dtype,
      )(x)
      return leaky_relu(x, 0.2)

    c = self.width
    x = Conv(
      c, (4, 4), strides=(2, 2), padding="SAME", kernel_init=weight_init
    )(x)
    x = leaky_relu(x, 0.2)
    for _ in range(self.extra_layers):
      x = block(x, c, (3, 3), (1, 1))
    for _ in range(num_blocks(self.resolution) - 1):
      c *= 2
      x = block(x, c, (4, 4), (2, 2))
    batch_layer = minibatch.layer(
      self.minibatch,
      kernels=self.minibatch_kernels,
      kernel_dim=self.minibatch_kernel_dim,
      group_size=self.minibatch_group,
    )
    if self.minibatch == "discrimination":  # On the flattened features.
      h = batch_layer(x.reshape(x.shape[0], -1))
      dense = nn.Dense(1, kernel_init=weight_init, dtype=self.dtype)
      x = spectral(dense, self.spectral_norm, train)(h)
    else:
      x = batch_layer(x)
      h = x.reshape(x.shape[0], -1)
      x = Conv(1, (4, 4), padding="VALID", kernel_init=weight_init)(x)
    return conditioning.head(
      h,
      x.reshape(x.shape[0]),
      y,
      cond=self.cond,
      num_classes=self.num_classes,
      spectral_norm=self.spectral_norm,
      train=train,
      dense_init=weight_init,
    )
