"""Inception-v3 as in the TensorFlow 2015-12-05 graph that FID is defined on.

This is the "FID Inception", which differs from torchvision's and Keras's
Inception-v3 in ways that change the scores:

* BatchNorm has no scale (only ``beta``) and ``eps = 1e-3``;
* the average pools of the Mixed_5*, 6* and 7b blocks exclude the padding
  from the count (TensorFlow's ``avg_pool`` with SAME padding);
* the last block (Mixed_7c) pools with a 3×3 stride-1 *max* pool;
* the classifier has 1,008 outputs, used only by the Inception Score, and
  is applied without its bias, as the original Inception Score code does.

Input: 299×299×3 images scaled as ``(x − 128) / 128`` from uint8.
Output: the 2,048-d ``pool3`` features and, when the weights include the
classifier, the 1,008 logits. Layer names follow pytorch-fid.
Parameters come from :mod:`gan_jax.metrics.inception_weights`; the module is
used only through ``apply``. ``conv_impl`` picks how the convolutions are
computed (:mod:`gan_jax.models.convolutions`): the same parameters and
features either way, to float32 rounding.
"""

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.models import convolutions

BN_EPS = 1e-3


class ConvBN(nn.Module):
  """Convolution without bias, inference BatchNorm (beta only), ReLU."""

  features: int
  kernel: Sequence[int]
  strides: int = 1
  padding: Any = "VALID"
  precision: Any = None
  conv_impl: str = "xla"

  @nn.compact
  def __call__(self, x):
    Conv, _ = convolutions.conv_layers(self.conv_impl, precision=self.precision)
    x = Conv(
      self.features,
      tuple(self.kernel),
      strides=self.strides,
      padding=self.padding,
      use_bias=False,
      name="conv",
    )(x)
    beta = self.param("beta", nn.initializers.zeros, (self.features,))
    mean = self.param("mean", nn.initializers.zeros, (self.features,))
    var = self.param("var", nn.initializers.ones, (self.features,))
    scale = jax.lax.rsqrt(var + BN_EPS)
    return nn.relu((x - mean) * scale + beta)


def _avg_pool_same(x):
  return nn.avg_pool(
    x, (3, 3), (1, 1), ((1, 1), (1, 1)), count_include_pad=False
  )


def _max_pool_valid(x):
  return nn.max_pool(x, (3, 3), (2, 2))


class InceptionA(nn.Module):
  pool_features: int
  precision: Any = None
  conv_impl: str = "xla"

  @nn.compact
  def __call__(self, x):
    c = lambda f, k, p="VALID", name=None: ConvBN(
      f, k, 1, p, self.precision, self.conv_impl, name=name
    )
    b1 = c(64, (1, 1), name="branch1x1")(x)
    b5 = c(48, (1, 1), name="branch5x5_1")(x)
    b5 = c(64, (5, 5), ((2, 2), (2, 2)), name="branch5x5_2")(b5)
    b3 = c(64, (1, 1), name="branch3x3dbl_1")(x)
    b3 = c(96, (3, 3), ((1, 1), (1, 1)), name="branch3x3dbl_2")(b3)
    b3 = c(96, (3, 3), ((1, 1), (1, 1)), name="branch3x3dbl_3")(b3)
    bp = c(self.pool_features, (1, 1), name="branch_pool")(_avg_pool_same(x))
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
  precision: Any = None
  conv_impl: str = "xla"

  @nn.compact
  def __call__(self, x):
    c = lambda f, k, s=1, p="VALID", name=None: ConvBN(
      f, k, s, p, self.precision, self.conv_impl, name=name
    )
    b3 = c(384, (3, 3), 2, name="branch3x3")(x)
    bd = c(64, (1, 1), name="branch3x3dbl_1")(x)
    bd = c(96, (3, 3), 1, ((1, 1), (1, 1)), name="branch3x3dbl_2")(bd)
    bd = c(96, (3, 3), 2, name="branch3x3dbl_3")(bd)
    return jnp.concatenate([b3, bd, _max_pool_valid(x)], axis=-1)


_ROW = ((0, 0), (3, 3))  # 1×7 kernel
_COL = ((3, 3), (0, 0))  # 7×1 kernel


class InceptionC(nn.Module):
  channels_7x7: int
  precision: Any = None
  conv_impl: str = "xla"

  @nn.compact
  def __call__(self, x):
    c = lambda f, k, p="VALID", name=None: ConvBN(
      f, k, 1, p, self.precision, self.conv_impl, name=name
    )
    c7 = self.channels_7x7
    b1 = c(192, (1, 1), name="branch1x1")(x)
    b7 = c(c7, (1, 1), name="branch7x7_1")(x)
    b7 = c(c7, (1, 7), _ROW, name="branch7x7_2")(b7)
    b7 = c(192, (7, 1), _COL, name="branch7x7_3")(b7)
    bd = c(c7, (1, 1), name="branch7x7dbl_1")(x)
    bd = c(c7, (7, 1), _COL, name="branch7x7dbl_2")(bd)
    bd = c(c7, (1, 7), _ROW, name="branch7x7dbl_3")(bd)
    bd = c(c7, (7, 1), _COL, name="branch7x7dbl_4")(bd)
    bd = c(192, (1, 7), _ROW, name="branch7x7dbl_5")(bd)
    bp = c(192, (1, 1), name="branch_pool")(_avg_pool_same(x))
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
  precision: Any = None
  conv_impl: str = "xla"

  @nn.compact
  def __call__(self, x):
    c = lambda f, k, s=1, p="VALID", name=None: ConvBN(
      f, k, s, p, self.precision, self.conv_impl, name=name
    )
    b3 = c(192, (1, 1), name="branch3x3_1")(x)
    b3 = c(320, (3, 3), 2, name="branch3x3_2")(b3)
    b7 = c(192, (1, 1), name="branch7x7x3_1")(x)
    b7 = c(192, (1, 7), 1, _ROW, name="branch7x7x3_2")(b7)
    b7 = c(192, (7, 1), 1, _COL, name="branch7x7x3_3")(b7)
    b7 = c(192, (3, 3), 2, name="branch7x7x3_4")(b7)
    return jnp.concatenate([b3, b7, _max_pool_valid(x)], axis=-1)


class InceptionE(nn.Module):
  max_pool: bool  # Mixed_7c: the FID graph's 3×3 stride-1 max pool
  precision: Any = None
  conv_impl: str = "xla"

  @nn.compact
  def __call__(self, x):
    c = lambda f, k, p="VALID", name=None: ConvBN(
      f, k, 1, p, self.precision, self.conv_impl, name=name
    )
    one_three, three_one = ((0, 0), (1, 1)), ((1, 1), (0, 0))
    b1 = c(320, (1, 1), name="branch1x1")(x)
    b3 = c(384, (1, 1), name="branch3x3_1")(x)
    b3a = c(384, (1, 3), one_three, name="branch3x3_2a")(b3)
    b3b = c(384, (3, 1), three_one, name="branch3x3_2b")(b3)
    bd = c(448, (1, 1), name="branch3x3dbl_1")(x)
    bd = c(384, (3, 3), ((1, 1), (1, 1)), name="branch3x3dbl_2")(bd)
    bda = c(384, (1, 3), one_three, name="branch3x3dbl_3a")(bd)
    bdb = c(384, (3, 1), three_one, name="branch3x3dbl_3b")(bd)
    if self.max_pool:
      pooled = nn.max_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)))
    else:
      pooled = _avg_pool_same(x)
    bp = c(192, (1, 1), name="branch_pool")(pooled)
    return jnp.concatenate([b1, b3a, b3b, bda, bdb, bp], axis=-1)


class InceptionV3(nn.Module):
  """``(N, 299, 299, 3)`` scaled images → ``(pool3 (N, 2048), logits)``.

  ``logits`` is ``None`` unless ``with_logits``.
  """

  with_logits: bool = False
  precision: Any = None
  conv_impl: str = "xla"

  @nn.compact
  def __call__(self, x):
    p, ci = self.precision, self.conv_impl
    c = lambda f, k, s=1, pad="VALID", name=None: ConvBN(
      f, k, s, pad, p, ci, name=name
    )
    x = c(32, (3, 3), 2, name="Conv2d_1a_3x3")(x)
    x = c(32, (3, 3), name="Conv2d_2a_3x3")(x)
    x = c(64, (3, 3), 1, ((1, 1), (1, 1)), name="Conv2d_2b_3x3")(x)
    x = _max_pool_valid(x)
    x = c(80, (1, 1), name="Conv2d_3b_1x1")(x)
    x = c(192, (3, 3), name="Conv2d_4a_3x3")(x)
    x = _max_pool_valid(x)
    x = InceptionA(32, p, ci, name="Mixed_5b")(x)
    x = InceptionA(64, p, ci, name="Mixed_5c")(x)
    x = InceptionA(64, p, ci, name="Mixed_5d")(x)
    x = InceptionB(p, ci, name="Mixed_6a")(x)
    x = InceptionC(128, p, ci, name="Mixed_6b")(x)
    x = InceptionC(160, p, ci, name="Mixed_6c")(x)
    x = InceptionC(160, p, ci, name="Mixed_6d")(x)
    x = InceptionC(192, p, ci, name="Mixed_6e")(x)
    x = InceptionD(p, ci, name="Mixed_7a")(x)
    x = InceptionE(False, p, ci, name="Mixed_7b")(x)
    x = InceptionE(True, p, ci, name="Mixed_7c")(x)
    pool3 = jnp.mean(x, axis=(1, 2))
    if not self.with_logits:
      return pool3, None
    # No bias: the Inception Score of Salimans et al. multiplies pool3 by the
    # softmax weights alone (torch-fidelity's "logits_unbiased").
    return pool3, nn.Dense(1008, use_bias=False, precision=p, name="fc")(pool3)
