"""The ResNet generator and discriminator of SNGAN (Miyato et al. 2018).

Generator: z → dense to 4×4 → one up-block per doubling (BatchNorm, ReLU,
2× nearest upsampling, 3×3 conv, BatchNorm, ReLU, 3×3 conv; the shortcut
upsamples, then a 1×1 conv) →
BatchNorm, ReLU, 3×3 conv, tanh.

Discriminator: an optimised first block (3×3 conv, ReLU, 3×3 conv, 2×
average pool; shortcut: pool, then 1×1 conv), then blocks of ReLU, 3×3
conv, ReLU, 3×3 conv, with a 2× average pool on both paths where the block
halves the resolution and a 1×1 conv on the shortcut where it pools or
changes the channels; then ReLU, a sum over positions and a linear layer to
one output.

Channels, for ``width`` w: at 32×32 (the paper's CIFAR-10 networks, w =
128) G uses 2w throughout, and D w throughout with four blocks, the last
two at 8×8 without pooling; at 64×64 G goes 16w → w, halving per block, and
D goes w → 16w, doubling, its last block at 4×4 (the 64×64 networks of
Mimicry's SNGAN, w = 64). Resolutions 8 and 16 follow the 32×32 plan with
fewer blocks.

``attention_res`` inserts a self-attention block (:mod:`.attention`, SAGAN)
where the feature maps are that size: in G after the up-block that reaches
it, in D before the first block that works at it; 0 for none. Spectral
normalisation of D's layers is ``spectral_norm`` (``model.d_spectral_norm``),
as SNGAN uses.

``num_classes`` > 0 makes both conditional as SNGAN's class-conditional
networks are (:mod:`.conditioning`): G takes ``(z, y)``, and with
``cond="cbn"`` every BatchNorm is conditional (``concat``: one-hot labels
appended to z); D takes ``(images, y)`` and adds the projection term
(``cond="projection"``) or a classifier head (``acgan``) on its summed
features.
"""

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.models import conditioning
from gan_jax.models.attention import SelfAttention
from gan_jax.models.convolutions import conv_layers
from gan_jax.models.layers import spectral

xavier = nn.initializers.xavier_uniform()


def _doublings(resolution: int) -> int:
  return int(math.log2(resolution)) - 2


def _upsample(x):
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def _pool(x):
  return nn.avg_pool(x, (2, 2), (2, 2))


class Generator(nn.Module):
  resolution: int
  channels: int
  width: int = 128
  momentum: float = 0.9
  axis_name: str | None = None
  attention_res: int = 0
  conv_impl: str = "xla"
  dtype: Any = None
  num_classes: int = 0
  cond: str = "none"

  @nn.compact
  def __call__(self, z: jax.Array, train: bool) -> jax.Array:
    Conv, _ = conv_layers(self.conv_impl, self.dtype)
    blocks = _doublings(self.resolution)
    z, y = conditioning.split(z)
    z = conditioning.generator_input(z, y, self.cond, self.num_classes)

    def norm(x):
      return conditioning.generator_norm(
        "batch",
        y,
        train,
        cond=self.cond,
        num_classes=self.num_classes,
        momentum=self.momentum,
        axis_name=self.axis_name,
        dtype=self.dtype,
      )(x)

    if self.resolution <= 32:
      widths = [2 * self.width] * (blocks + 1)
    else:
      widths = [self.width * 2 ** (blocks - i) for i in range(blocks + 1)]
    x = nn.Dense(4 * 4 * widths[0], kernel_init=xavier, dtype=self.dtype)(z)
    x = x.reshape(-1, 4, 4, widths[0])
    for i in range(blocks):
      c_out = widths[i + 1]
      h = _upsample(nn.relu(norm(x)))
      h = Conv(c_out, (3, 3), padding="SAME", kernel_init=xavier)(h)
      h = Conv(c_out, (3, 3), padding="SAME", kernel_init=xavier)(
        nn.relu(norm(h))
      )
      # A learned shortcut, since the block upsamples (as SNGAN's).
      shortcut = Conv(c_out, (1, 1), kernel_init=xavier)(_upsample(x))
      x = h + shortcut
      if self.attention_res == 4 * 2 ** (i + 1):
        x = SelfAttention(dtype=self.dtype)(x)
    x = nn.relu(norm(x))
    x = Conv(self.channels, (3, 3), padding="SAME", kernel_init=xavier)(x)
    return jnp.tanh(x).astype(jnp.float32)


class Discriminator(nn.Module):
  resolution: int
  width: int = 128
  attention_res: int = 0
  spectral_norm: bool = True
  conv_impl: str = "xla"
  dtype: Any = None
  num_classes: int = 0
  cond: str = "none"

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    Plain, _ = conv_layers(self.conv_impl, self.dtype)
    x, y = conditioning.split(x)

    def Conv(*args, **kwargs):  # A layer constructor, as Plain is.
      layer = Plain(*args, kernel_init=xavier, **kwargs)
      return spectral(layer, self.spectral_norm, train)

    blocks = _doublings(self.resolution)
    if self.resolution <= 32:  # SNGAN-32: two pooled blocks, two not
      widths = [self.width] * (blocks + 1)
      pools = [True] * (blocks - 1) + [False, False]
    else:
      widths = [self.width * 2**i for i in range(blocks + 1)]
      pools = [True] * blocks + [False]
    c = widths[0]
    # The optimised first block.
    h = Conv(c, (3, 3), padding="SAME")(x)
    h = _pool(Conv(c, (3, 3), padding="SAME")(nn.relu(h)))
    x = h + Conv(c, (1, 1))(_pool(x))
    res, attended = self.resolution // 2, False
    for i, pool in enumerate(pools[1:], start=1):
      if self.attention_res == res and not attended:
        x = SelfAttention(
          wrap=lambda layer: spectral(layer, self.spectral_norm, train),
          dtype=self.dtype,
        )(x)
        attended = True
      c_out = widths[min(i, len(widths) - 1)]
      h = Conv(c_out, (3, 3), padding="SAME")(nn.relu(x))
      h = Conv(c_out, (3, 3), padding="SAME")(nn.relu(h))
      shortcut = x
      if pool or c_out != x.shape[-1]:
        shortcut = Conv(c_out, (1, 1))(shortcut)
      if pool:
        h, shortcut, res = _pool(h), _pool(shortcut), res // 2
      x = h + shortcut
    h = jnp.sum(nn.relu(x).astype(jnp.float32), axis=(1, 2))
    dense = nn.Dense(1, kernel_init=xavier)
    logits = spectral(dense, self.spectral_norm, train)(h).reshape(h.shape[0])
    return conditioning.head(
      h,
      logits,
      y,
      cond=self.cond,
      num_classes=self.num_classes,
      spectral_norm=self.spectral_norm,
      train=train,
      dense_init=xavier,
    )
