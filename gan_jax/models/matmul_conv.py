"""Convolutions computed as matrix multiplications, for XLA:CPU.

XLA:CPU runs convolutions well below the speed of its matrix multiplication,
and a strided convolution's input gradient or a transposed convolution (an
input-dilated convolution) tens of times slower still. These functions
compute the same results as ``lax.conv_general_dilated`` and
``lax.conv_transpose`` (NHWC, HWIO; tested to float rounding) from stride-1
pieces and one matrix multiplication:

- ``conv`` with stride s moves each s×s block of the padded input into
  channels (space-to-depth) and convolves with a ceil(k/s)-wide kernel over
  s²·C_in channels;
- ``conv_transpose`` with stride s convolves with a ceil(k/s)-wide kernel
  into s²·C_out channels, one group per output phase, and interleaves the
  phases (depth-to-space: the "sub-pixel" convolution of Shi et al. 2016);
- the stride-1 convolution gathers its k_h·k_w shifted windows into one
  patch matrix and multiplies it with the kernel (im2col).

The FLOPs are those of the direct convolution (for k divisible by s), and
every gradient is again a matrix multiplication or a sum of shifted slices.
The kernels are the usual ``(kh, kw, C_in, C_out)`` arrays, rearranged
inside the functions, so parameters, initialisation and checkpoints are the
same as Flax's ``nn.Conv`` and ``nn.ConvTranspose`` (the modules below).
benchmarks/README.md has the measurements.
"""

import math
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

Padding = str | Sequence[tuple[int, int]]


def conv(
  x: jax.Array,
  kernel: jax.Array,
  strides: Sequence[int],
  padding: Padding,
  precision=None,
) -> jax.Array:
  """``lax.conv_general_dilated(x, kernel, strides, padding)`` in NHWC/HWIO."""
  sizes, ks = x.shape[1:3], kernel.shape[:2]
  pads = _conv_pads(sizes, ks, strides, padding)
  outs = [
    (n + lo + hi - k) // s + 1
    for n, k, s, (lo, hi) in zip(sizes, ks, strides, pads)
  ]
  ms = [math.ceil(k / s) for k, s in zip(ks, strides)]
  # Pad (or crop) each side so the padded length is exactly (out + m - 1) * s.
  config = [(0, 0, 0)]
  for n, s, m, o, (lo, _) in zip(sizes, strides, ms, outs, pads):
    config.append((lo, (o + m - 1) * s - n - lo, 0))
  config.append((0, 0, 0))
  x = lax.pad(x, jnp.zeros((), x.dtype), config)
  if any(s > 1 for s in strides):
    x = _space_to_depth(x, strides)
  return _valid(x, _strided_kernel(kernel, strides, ms), precision)


def conv_transpose(
  x: jax.Array,
  kernel: jax.Array,
  strides: Sequence[int],
  padding: Padding,
  precision=None,
) -> jax.Array:
  """``lax.conv_transpose(x, kernel, strides, padding)`` in NHWC/HWIO.

  As there (``transpose_kernel=False``), ``padding`` names the padding of the
  dilated input: 'SAME' and 'VALID' follow lax's rules for the forward
  convolution, and explicit pairs ``(lo, hi)`` pad the dilated input itself,
  as lax does by default.
  """
  sizes, ks = x.shape[1:3], kernel.shape[:2]
  ms = [math.ceil(k / s) for k, s in zip(ks, strides)]
  config = [(0, 0, 0)]
  crops = []
  for n, k, s, m, (lo, hi) in zip(
    sizes, ks, strides, ms, _transpose_pads(ks, strides, padding)
  ):
    # The full transposed convolution has (n - 1) * s + k outputs; lax's
    # padding keeps `size` of them from `start` (zeros outside).
    size = (n - 1) * s + lo + hi - k + 2
    start = k - 1 - lo
    # Phase r of output block q is output q * s + r; compute blocks [q0, q1).
    q0, q1 = start // s, -(-(start + size) // s)
    config.append((m - 1 - q0, q1 - n, 0))
    crops.append((start - q0 * s, size))
  config.append((0, 0, 0))
  x = lax.pad(x, jnp.zeros((), x.dtype), config)
  y = _valid(x, _phase_kernel(kernel, strides, ms), precision)
  y = _depth_to_space(y, strides)
  return y[:, crops[0][0] :, crops[1][0] :][:, : crops[0][1], : crops[1][1]]


def _valid(x, kernel, precision):
  """Stride-1 'VALID' convolution as one matrix multiplication (im2col)."""
  kh, kw, c, o = kernel.shape
  b, h, w, _ = x.shape
  ho, wo = h - kh + 1, w - kw + 1
  if kh * kw == 1:
    patches = x
  else:  # Stacking on a new axis is faster on XLA:CPU than concatenating.
    windows = [
      x[:, i : i + ho, j : j + wo] for i in range(kh) for j in range(kw)
    ]
    patches = jnp.stack(windows, axis=-2)
  y = jnp.dot(
    patches.reshape(-1, kh * kw * c), kernel.reshape(-1, o), precision=precision
  )
  return y.reshape(b, ho, wo, o)


def _conv_pads(sizes, ks, strides, padding):
  if isinstance(padding, str):
    return lax.padtype_to_pads(sizes, ks, strides, padding)
  return [tuple(p) for p in padding]


def _transpose_pads(ks, strides, padding):
  """Padding of the dilated input, by the rules of ``lax.conv_transpose``."""
  if not isinstance(padding, str):
    return [tuple(p) for p in padding]
  pads = []
  for k, s in zip(ks, strides):
    if padding == "SAME":
      total = k + s - 2
      lo = k - 1 if s > k - 1 else -(-total // 2)
    elif padding == "VALID":
      total, lo = k + s - 2 + max(k - s, 0), k - 1
    else:
      raise ValueError(f"unknown padding {padding!r}")
    pads.append((lo, total - lo))
  return pads


def _space_to_depth(x, strides):
  (b, h, w, c), (sh, sw) = x.shape, strides
  x = x.reshape(b, h // sh, sh, w // sw, sw, c)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, h // sh, w // sw, -1)


def _depth_to_space(y, strides):
  (b, h, w, _), (sh, sw) = y.shape, strides
  y = y.reshape(b, h, w, sh, sw, -1)
  return y.transpose(0, 1, 3, 2, 4, 5).reshape(b, h * sh, w * sw, -1)


def _strided_kernel(kernel, strides, ms):
  """(kh, kw, C, O) → (mh, mw, sh·sw·C, O), tap m·s + r in channel group r."""
  (kh, kw, c, o), (sh, sw), (mh, mw) = kernel.shape, strides, ms
  kernel = jnp.pad(
    kernel, ((0, mh * sh - kh), (0, mw * sw - kw), (0, 0), (0, 0))
  )
  kernel = kernel.reshape(mh, sh, mw, sw, c, o).transpose(0, 2, 1, 3, 4, 5)
  return kernel.reshape(mh, mw, sh * sw * c, o)


def _phase_kernel(kernel, strides, ms):
  """(kh, kw, C, O) → (mh, mw, C, sh·sw·O).

  Output phase r at block q sums inputs q - m' times kernel tap
  k - 1 - m'·s - r (m' = 0 … m - 1); as a correlation over the input padded
  by m - 1 on the left, tap j of the new kernel is m' = m - 1 - j.
  """
  (kh, kw, c, o), (sh, sw), (mh, mw) = kernel.shape, strides, ms
  # Flip, pad at the end to m·s taps: flipped[t] = kernel[k - 1 - t].
  flipped = kernel[::-1, ::-1]
  flipped = jnp.pad(
    flipped, ((0, mh * sh - kh), (0, mw * sw - kw), (0, 0), (0, 0))
  )
  # flipped[m'·s + r] is the tap of phase r at distance m'; reverse m'.
  k6 = flipped.reshape(mh, sh, mw, sw, c, o)[::-1, :, ::-1]
  return k6.transpose(0, 2, 4, 1, 3, 5).reshape(mh, mw, c, sh * sw * o)


class Conv(nn.Module):
  """``nn.Conv`` (NHWC, 2-D) computed by :func:`conv`: same parameters."""

  features: int
  kernel_size: tuple[int, int]
  strides: tuple[int, int] = (1, 1)
  padding: Padding = "SAME"
  use_bias: bool = True
  kernel_init: Callable = nn.initializers.lecun_normal()
  bias_init: Callable = nn.initializers.zeros_init()
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    return self._apply(conv, x)

  def _apply(self, fn, x):
    shape = (*self.kernel_size, x.shape[-1], self.features)
    kernel = self.param("kernel", self.kernel_init, shape, self.param_dtype)
    bias = None
    if self.use_bias:
      bias = self.param(
        "bias", self.bias_init, (self.features,), self.param_dtype
      )
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    y = fn(x, kernel, self.strides, self.padding)
    return y if bias is None else y + bias


class ConvTranspose(Conv):
  """``nn.ConvTranspose`` (NHWC, 2-D, ``transpose_kernel=False``) computed by
  :func:`conv_transpose`: same parameters."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    return self._apply(conv_transpose, x)
