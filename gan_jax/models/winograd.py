"""Winograd convolutions: fewer multiplications for XLA:CPU's convolutions.

A strided convolution is a stride-1 one over super-pixels: the input viewed
as (rows/s, s, cols/s, s·C), where each super-pixel holds s×s pixels, and
the kernel as m×m taps of s·s·C channels, m = ceil(k/s) (2 for the usual
4×4, stride-2 kernel; 3 for a 3×3, stride-1 one). Winograd's minimal
filtering algorithm F(2, m) (Lavin & Gray 2016) computes two outputs of an
m-tap correlation from m + 1 products instead of 2·m, so a 2×2 tile of
outputs from (m + 1)² matrix products instead of 4·m² (9 instead of 16 for
m = 2, 16 instead of 36 for m = 3), each over all channels:

- the input's tiles are transformed (``Bᵀ d B``: sums and differences of
  super-pixels, (m + 1)² arrays of (tiles, s·s·C));
- so is the kernel (``G g Gᵀ``: (m + 1)² matrices of (s·s·C, O));
- each pair is multiplied, a matrix multiplication over the channels;
- the products are transformed back (``Aᵀ M A``: sums) into the outputs.

For m = 2 the transforms hold only 0 and ±1, for m = 3 also ±1/2, so the
results are those of the direct convolution up to float32 rounding (tested
against lax). The backward passes are the same three steps transposed:
the input's gradient multiplies by the transposed kernel matrices and adds
the tiles back where they overlap; the kernel's multiplies the transformed
input by the transformed output gradient. A transposed convolution is the
adjoint of a strided one, so it runs the input-gradient steps forward.

In bfloat16 (mixed precision) the transforms are computed in float32 and
rounded to bfloat16 for the products, which accumulate in float32 on the
CPU's bfloat16 instructions; each product's operands then reach XLA in the
standard layout (``matmul_conv._dot``), so the backward passes transform
the kernel with its matrix axes swapped and the layer's input with its
channels first. That rounds each transformed operand once, where im2col
rounds only the inputs: a few 2⁻⁹ of the largest terms (tested against
lax in float32). Other dtypes (float16, which XLA:CPU multiplies in
float32 anyway) are computed in float32 throughout.

:func:`conv` and :func:`conv_transpose` take this path where it pays on
XLA:CPU (float32, or bfloat16 on a CPU without bfloat16 matrix tiles; m
of 2 or 3, enough channels and outputs; measured in benchmarks/README.md)
and :mod:`matmul_conv`'s im2col and col2im otherwise. The modules have
the same parameters as Flax's ``nn.Conv`` and ``nn.ConvTranspose``.
"""

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gan_jax.models import matmul_conv
from gan_jax.models.matmul_conv import (
  Padding,
  _conv_outputs,
  _crop_transposed,
  _dot,
  _nothing_to_compute,
  _pad_config,
  _pad_kernel,
  _super_pixels,
  _taps,
  _transposed_outputs,
  _zeros_as_lax,
)

# F(2, m) for m taps: Bᵀ ((m+1)×(m+1), the input), G ((m+1)×m, the kernel)
# and Aᵀ (2×(m+1), the products): Lavin & Gray's F(2, 3) and its two-tap
# analogue, whose entries are exact in binary.
_F2 = {
  2: (
    np.array([[1, -1, 0], [0, 1, 0], [0, -1, 1]]),
    np.array([[1, 0], [1, 1], [0, 1]]),
    np.array([[1, 1, 0], [0, 1, 1]]),
  ),
  3: (
    np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]),
    np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]),
    np.array([[1, 1, 1, 0], [0, 1, -1, -1]]),
  ),
}
# Where the transforms pay on XLA:CPU (measured layer by layer, forward and
# backward, in benchmarks/README.md): enough channels per super-pixel
# (s_h·s_w·C of a convolution's input, s_h·s_w·O of a transposed one's
# output) for the products to be worth it, and enough tiles. A transposed
# convolution's products have one row per 2×2 tile of its input (over the
# batch) and C columns: with fewer rows than C/2, transforming the kernel
# costs more than the smaller products save.
MIN_CONV_CHANNELS = 16
MIN_CONV_OUTPUT = 4
MIN_TRANSPOSE_CHANNELS = 128
MIN_TRANSPOSE_INPUT = 4
MIN_TRANSPOSE_TILES_PER_CHANNEL = 0.5
# In bfloat16 the products run twice as fast, so the kernel's transform
# weighs twice as much: a tile for every input channel.
MIN_TRANSPOSE_TILES_PER_CHANNEL_NARROW = 1
# On a CPU with bfloat16 matrix tiles (Intel's AMX), XLA:CPU's bfloat16
# products run about five times as fast as its float32 ones, and no
# transform pays for the products it saves: there bfloat16 takes im2col
# and col2im throughout (dcgan32's step 1.2 times as fast as with
# Winograd). Linux names the tiles in /proc/cpuinfo's flags.
BFLOAT16_TILES_FLAG = "amx_bf16"
CPUINFO = "/proc/cpuinfo"


def conv(x, kernel, strides, padding: Padding, precision=None) -> jax.Array:
  """``lax.conv_general_dilated(x, kernel, strides, padding)`` (NHWC,
  HWIO): :func:`winograd_conv` where it pays, ``matmul_conv.conv`` else."""
  if conv_pays(x, kernel.shape, strides, padding):
    return winograd_conv(x, kernel, strides, padding, precision)
  return matmul_conv.conv(x, kernel, strides, padding, precision)


def conv_transpose(x, kernel, strides, padding, precision=None) -> jax.Array:
  """``lax.conv_transpose(x, kernel, strides, padding)`` (NHWC, HWIO):
  :func:`winograd_conv_transpose` where it pays, ``matmul_conv``'s else."""
  if conv_transpose_pays(x, kernel.shape, strides):
    return winograd_conv_transpose(x, kernel, strides, padding, precision)
  return matmul_conv.conv_transpose(x, kernel, strides, padding, precision)


def conv_pays(x, kernel_shape, strides, padding) -> bool:
  """Whether :func:`conv` takes the Winograd path for these shapes."""
  ks = kernel_shape[:2]
  _, outs = _conv_outputs(x.shape[1:3], ks, strides, padding)
  return (
    _eligible(x, ks, strides)
    and strides[0] * strides[1] * x.shape[-1] >= MIN_CONV_CHANNELS
    and min(outs) >= MIN_CONV_OUTPUT
  )


def conv_transpose_pays(x, kernel_shape, strides) -> bool:
  """Whether :func:`conv_transpose` takes the Winograd path."""
  b, h, w, c = x.shape
  th, tw = _tiles((h, w))
  return (
    _eligible(x, kernel_shape[:2], strides)
    and strides[0] * strides[1] * kernel_shape[-1] >= MIN_TRANSPOSE_CHANNELS
    and min(h, w) >= MIN_TRANSPOSE_INPUT
    and b * th * tw >= c * _tiles_per_channel(x)
  )


def _tiles_per_channel(x) -> float:
  if _narrow(x):
    return MIN_TRANSPOSE_TILES_PER_CHANNEL_NARROW
  return MIN_TRANSPOSE_TILES_PER_CHANNEL


def _eligible(x, ks, strides) -> bool:
  # float32, and bfloat16 (mixed precision) with its products rounded
  # where the CPU has no bfloat16 tiles.
  if x.dtype == jnp.bfloat16:
    fits = not bfloat16_tiles()
  else:
    fits = x.dtype == jnp.float32
  return fits and supported(_taps(ks, strides))


@functools.cache
def bfloat16_tiles(cpuinfo: str = CPUINFO) -> bool:
  """Whether this CPU multiplies bfloat16 matrices in tiles (AMX): the
  first ``flags`` line of ``cpuinfo`` names ``BFLOAT16_TILES_FLAG``.
  False where there is no such file (not Linux) or line."""
  try:
    with open(cpuinfo) as f:
      for line in f:
        if line.startswith("flags"):
          return BFLOAT16_TILES_FLAG in line.split(":", 1)[-1].split()
  except OSError:
    pass
  return False


def _tiles(sizes: Sequence[int]) -> list[int]:
  """2×2 tiles per axis covering ``sizes``."""
  return [-(-n // 2) for n in sizes]


def supported(ms: Sequence[int]) -> bool:
  """Whether kernels of ``ms`` super-pixel taps per axis have a transform."""
  return all(m in _F2 for m in ms)


def winograd_conv(x, kernel, strides, padding, precision=None) -> jax.Array:
  """``lax.conv_general_dilated(x, kernel, strides, padding)`` in NHWC/HWIO
  by F(2, m) over super-pixels, for any kernel with m = ceil(k/s) of 2 or
  3 on each axis. Computes in float32 at least, bfloat16's products
  from its transforms rounded to bfloat16 (see the module's docstring)."""
  c, o = x.shape[-1], kernel.shape[-1]
  (sh, sw), ms = strides, _taps(kernel.shape[:2], strides)
  pads, outs = _conv_outputs(x.shape[1:3], kernel.shape[:2], strides, padding)
  if _nothing_to_compute(x, kernel, outs):
    return _zeros_as_lax(lax.conv_general_dilated, x, kernel, strides, padding)
  tiles = _tiles(outs)
  # The 2·t + m - 1 super-pixels that the 2·t outputs of the tiles read.
  config = _pad_config(x.shape, strides, ms, [2 * t for t in tiles], pads)
  view = (config, (sh, sw))
  wide = jnp.promote_types(x.dtype, jnp.float32)
  # The kernel as (m_h, m_w) taps of (s_h, s_w, C) super-pixel channels.
  k = _pad_kernel(kernel.astype(wide), ms, strides)
  k = k.reshape(ms[0], sh, ms[1], sw, c, o).transpose(0, 2, 1, 3, 4, 5)
  k = k.reshape(ms[0], ms[1], sh * sw * c, o)
  y = _correlate(_narrow_or_wide(x), k, (*ms, *tiles), view, precision)
  return y[:, : outs[0], : outs[1]].astype(x.dtype)


def winograd_conv_transpose(
  x, kernel, strides, padding, precision=None
) -> jax.Array:
  """``lax.conv_transpose(x, kernel, strides, padding)`` in NHWC/HWIO as
  the adjoint of :func:`winograd_conv`: input pixel i and tap t of the
  flipped kernel land on output s·i + t of the full transposed convolution,
  which is the input gradient of a correlation of that output with the
  kernel over super-pixels. Then cropped or padded as lax does."""
  (b, h, w, c), o = x.shape, kernel.shape[-1]
  outs = _transposed_outputs((h, w), kernel.shape[:2], strides, padding)
  if _nothing_to_compute(x, kernel, outs):
    return _zeros_as_lax(lax.conv_transpose, x, kernel, strides, padding)
  (sh, sw), ms = strides, _taps(kernel.shape[:2], strides)
  tiles = _tiles((h, w))
  wide = jnp.promote_types(x.dtype, jnp.float32)
  flipped = _pad_kernel(kernel[::-1, ::-1].astype(wide), ms, strides)
  # kt[u, v][c, (r, r', o)] = flipped[s·u + r, s·v + r', c, o]: the
  # correlation's kernel matrices, transposed. In this order no step reads
  # the kernel or its gradient transposed (XLA:CPU's transposing copies
  # ran at about 1 GB/s in the step; benchmarks/README.md).
  kt = flipped.reshape(ms[0], sh, ms[1], sw, c, o).transpose(0, 2, 4, 1, 3, 5)
  kt = kt.reshape(ms[0], ms[1], c, sh * sw * o)
  y = jnp.pad(
    _narrow_or_wide(x),
    ((0, 0), (0, 2 * tiles[0] - h), (0, 2 * tiles[1] - w), (0, 0)),
  )
  supers = [2 * t + m - 1 for t, m in zip(tiles, ms)]
  xv_shape = (b, supers[0], sh, supers[1], sw * o)
  full = _correlate_t(y, kt, (*ms, *tiles), xv_shape, precision)
  full = full.reshape(b, supers[0] * sh, supers[1] * sw, o)
  full = _crop_transposed(full, (h, w), kernel.shape[:2], strides, padding)
  return full.astype(x.dtype)


# The three steps and their transposes. `geo` is (m_h, m_w, t_h, t_w): taps
# and 2×2 output tiles per axis; `xv` is the (b, 2·t_h + m_h - 1, s_h,
# 2·t_w + m_w - 1, s_w·C) super-pixel view, `y` the (b, 2·t_h, 2·t_w, O)
# outputs, `k` the (m_h, m_w, s_h·s_w·C, O) kernel.


def _combine(coefficients, parts):
  """Σ c·part over the nonzero coefficients."""
  total = None
  for c, part in zip(map(float, coefficients), parts):  # weak: part's dtype
    if c:
      term = part if c == 1 else -part if c == -1 else c * part
      total = term if total is None else total + term
  return total


def _tile_rows(xv, m, t, axis):
  """Bᵀ along ``axis``: (m + 1) arrays of t tiles, each the combination of
  m + 1 stride-2 slices of the super-pixels."""
  bt = _F2[m][0]
  parts = [
    lax.slice_in_dim(xv, a, a + 2 * t - 1, 2, axis) for a in range(m + 1)
  ]
  return [_combine(row, parts) for row in bt]


def _tile_rows_adjoint(grads, m, t, axis, length):
  """The transpose of :func:`_tile_rows`: slice a of tile j came from
  super-pixel 2·j + a, so even and odd super-pixels each sum the slices of
  their parity, shifted, and are interleaved."""
  bt = _F2[m][0]
  slices = [_combine(bt[:, a], grads) for a in range(m + 1)]
  half = (length + 1) // 2
  parities = []
  for p in (0, 1):
    total = None
    for e in range((m - p) // 2 + 1):
      config = [(0, 0)] * grads[0].ndim
      config[axis] = (e, half - t - e)
      term = jnp.pad(slices[2 * e + p], config)
      total = term if total is None else total + term
    parities.append(total)
  both = jnp.stack(parities, axis=axis + 1)
  shape = list(parities[0].shape)
  shape[axis] = 2 * half
  return lax.slice_in_dim(both.reshape(shape), 0, length, axis=axis)


def _transform_input(xv, geo):
  """(m_h + 1)·(m_w + 1) arrays of (b·t_h·t_w, s_h·s_w·C)."""
  mh, mw, th, tw = geo
  out = []
  for rows in _tile_rows(xv, mh, th, 1):
    for v in _tile_rows(rows, mw, tw, 3):  # (b, t_h, s_h, t_w, s_w·C)
      v = jnp.stack([v[:, :, r] for r in range(v.shape[2])], axis=-2)
      out.append(v.reshape(-1, v.shape[-2] * v.shape[-1]))
  return out


def _transform_input_t(xv, geo):
  """:func:`_transform_input`'s matrices transposed, (s_h·s_w·C,
  b·t_h·t_w), from the super-pixels with their channels first."""
  mh, mw, th, tw = geo
  xt = jnp.transpose(xv, (2, 4, 0, 1, 3))  # (s_h, s_w·C, b, rows, cols)
  out = []
  for rows in _tile_rows(xt, mh, th, 3):
    for v in _tile_rows(rows, mw, tw, 4):  # (s_h, s_w·C, b, t_h, t_w)
      out.append(v.reshape(v.shape[0] * v.shape[1], -1))
  return out


def _transform_input_adjoint(grads, geo, xv_shape):
  mh, mw, th, tw = geo
  b, rows, sh, cols, swc = xv_shape
  grads = [jnp.moveaxis(g.reshape(b, th, tw, sh, swc), 3, 2) for g in grads]
  n = mw + 1
  by_row = [
    _tile_rows_adjoint(grads[i * n : (i + 1) * n], mw, tw, 3, cols)
    for i in range(mh + 1)
  ]
  return _tile_rows_adjoint(by_row, mh, th, 1, rows)


def _transform_kernel(k, geo):
  """(m_h + 1)·(m_w + 1) matrices of (s_h·s_w·C, O)."""
  mh, mw = geo[:2]
  gh, gw = _F2[mh][1], _F2[mw][1]
  rows = [_combine(g, list(k)) for g in gh]
  return [_combine(g, [r[v] for v in range(mw)]) for r in rows for g in gw]


def _transform_kernel_adjoint(grads, geo):
  mh, mw = geo[:2]
  gh, gw = _F2[mh][1], _F2[mw][1]
  n = mw + 1
  taps = []
  for u in range(mh):
    row = [_combine(gh[:, u], grads[j::n]) for j in range(n)]
    taps.append(jnp.stack([_combine(gw[:, v], row) for v in range(mw)]))
  return jnp.stack(taps)


def _transform_output(products, geo, b):
  """Aᵀ M A: the (b, 2·t_h, 2·t_w, O) outputs."""
  mh, mw, th, tw = geo
  ah, aw = _F2[mh][2], _F2[mw][2]
  o, n = products[0].shape[-1], mw + 1
  products = [p.reshape(b, th, tw, o) for p in products]
  rows = [[_combine(a, products[j::n]) for j in range(n)] for a in ah]
  y = [jnp.stack([_combine(a, row) for a in aw], axis=3) for row in rows]
  return jnp.stack(y, axis=2).reshape(b, 2 * th, 2 * tw, o)


def _transform_output_adjoint(y, geo):
  mh, mw, th, tw = geo
  ah, aw = _F2[mh][2], _F2[mw][2]
  b, o = y.shape[0], y.shape[-1]
  y = y.reshape(b, th, 2, tw, 2, o)
  rows = [
    _combine(ah[:, i], [y[:, :, p] for p in (0, 1)]) for i in range(mh + 1)
  ]
  return [
    _combine(aw[:, j], [r[:, :, :, q] for q in (0, 1)]).reshape(-1, o)
    for r in rows
    for j in range(mw + 1)
  ]


def _transform_output_adjoint_t(y, geo):
  """:func:`_transform_output_adjoint`'s matrices transposed, (O,
  b·t_h·t_w), from ``y`` with its channels first."""
  mh, mw, th, tw = geo
  ah, aw = _F2[mh][2], _F2[mw][2]
  b, o = y.shape[0], y.shape[-1]
  y = jnp.moveaxis(y, -1, 0).reshape(o, b, th, 2, tw, 2)
  rows = [
    _combine(ah[:, i], [y[:, :, :, p] for p in (0, 1)]) for i in range(mh + 1)
  ]
  return [
    _combine(aw[:, j], [r[..., q] for q in (0, 1)]).reshape(o, -1)
    for r in rows
    for j in range(mw + 1)
  ]


def _products(v, u, precision):
  return [_dot(a, c, precision) for a, c in zip(v, u)]


def _forward(v, u, geo, b, precision):
  """The correlation's (b, 2·t_h, 2·t_w, O) outputs from the transformed
  input ``v`` and kernel ``u``."""
  return _transform_output(_products(v, u, precision), geo, b)


# `g` below is the outputs' side transformed: _transform_output_adjoint of
# the output gradient (or, for the transposed convolution, of its input).


def _input_grad(g, u, geo, xv_shape, precision):
  grads = [_dot(a, b.T, precision) for a, b in zip(g, u)]
  return _transform_input_adjoint(grads, geo, xv_shape)


def _kernel_grads(v, g, precision):
  """The gradients of the transformed kernel's (s_h·s_w·C, O) matrices."""
  # (gᵀ v)ᵀ, not vᵀ g: XLA:CPU runs a product with a transposed left
  # operand on a slower path (benchmarks/README.md).
  return [_dot(a.T, b, precision).T for a, b in zip(g, v)]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _correlate(x, k, geo, view, precision):
  """The m_h×m_w correlation of ``x``'s super-pixels with ``k``.

  The padding is inside, so that the backward pass keeps ``x``, not its
  padded copy, which XLA then recomputes: with the padding outside, XLA
  kept both (for dcgan64's discriminator at batch 256, padded copies of
  145, 81 and 50 MB per batch beside the activations).
  """
  u = _transform_kernel(k, geo)
  v = _transform_input(_super_pixels(_wide(x), view), geo)
  if _narrow(x):
    v, u = _rounded(v, x.dtype), _rounded(u, x.dtype)
  return _forward(v, u, geo, x.shape[0], precision)


def _correlate_fwd(x, k, geo, view, precision):
  return _correlate(x, k, geo, view, precision), (x, k)


def _correlate_bwd(geo, view, precision, residuals, g):
  x, k = residuals
  if _narrow(x):
    return _correlate_bwd_narrow(geo, view, precision, x, k, g)
  # The kernel's gradient transforms the input again, and the input's
  # gradient the kernel. Made to depend on g, so that XLA's CSE does not
  # merge them with the forward pass's transforms and keep those alive in
  # between ((m + 1)²/4 times the input, and the kernel).
  xv, to_x = jax.vjp(
    functools.partial(_super_pixels, view=view), matmul_conv._after(x, g)
  )
  v = _transform_input(xv, geo)
  u = _transform_kernel(matmul_conv._after(k, g), geo)
  g = _transform_output_adjoint(g, geo)
  (grad_x,) = to_x(_input_grad(g, u, geo, xv.shape, precision))
  return grad_x, _transform_kernel_adjoint(_kernel_grads(v, g, precision), geo)


def _correlate_bwd_narrow(geo, view, precision, x, k, g):
  """:func:`_correlate_bwd` with every product's operands in the standard
  layout (``matmul_conv._dot``), rounded to ``x``'s dtype: the kernel's
  transform taken from the kernel with its two matrix axes swapped, and
  the input's from its super-pixels with their channels first (the
  kernel gradient's left operand, (s_h·s_w·C, tiles))."""
  dtype = x.dtype
  xv, to_x = jax.vjp(
    functools.partial(_super_pixels, view=view), matmul_conv._after(x, g)
  )
  ut = _transform_kernel(jnp.swapaxes(matmul_conv._after(k, g), 2, 3), geo)
  g = _rounded(_transform_output_adjoint(g, geo), dtype)
  grads = _products(g, _rounded(ut, dtype), precision)
  (grad_x,) = to_x(_transform_input_adjoint(grads, geo, xv.shape).astype(dtype))
  vt = _rounded(_transform_input_t(_wide(xv), geo), dtype)
  grad_k = _transform_kernel_adjoint(_products(vt, g, precision), geo)
  return grad_x, grad_k


_correlate.defvjp(_correlate_fwd, _correlate_bwd)


def _wide(x):
  return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def _narrow(x) -> bool:
  """Whether products with ``x`` take rounded operands in the standard
  layout: bfloat16's, which run on the CPU's bfloat16 instructions."""
  return x.dtype == jnp.bfloat16


def _narrow_or_wide(x):
  """``x`` as the correlations take it: bfloat16 as it is, anything else
  in float32 at least."""
  return x if _narrow(x) else _wide(x)


def _rounded(arrays, dtype):
  """The transforms, computed in float32, rounded to the products' dtype."""
  return [a.astype(dtype) for a in arrays]


def _transposed(matrices):
  return [m.T for m in matrices]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _correlate_t(y, kt, geo, xv_shape, precision):
  """The transpose of :func:`_correlate` in its input, for the kernel
  matrices given transposed (``kt[u, v] = k[u, v]ᵀ``). The transforms act
  on taps, so they commute with that transpose: in bfloat16 the
  transformed ``kt`` is the products' right operand as it is, in float32
  XLA cancels each matrix's two transposes."""
  g = _transform_output_adjoint(_wide(y), geo)
  # The kernel's transform depends on y, so that XLA does not merge it with
  # another call's on the same kernel (the D update's fakes, the backward
  # pass) and keep it alive in between: 72 MB for dcgan64's first layer.
  u = _transform_kernel(matmul_conv._after(kt, y), geo)
  if _narrow(y):  # u's matrices are (C, s_h·s_w·O): the standard layout.
    grads = _products(_rounded(g, y.dtype), _rounded(u, y.dtype), precision)
    return _transform_input_adjoint(grads, geo, xv_shape)
  return _input_grad(g, _transposed(u), geo, xv_shape, precision)


def _correlate_t_fwd(y, kt, geo, xv_shape, precision):
  return _correlate_t(y, kt, geo, xv_shape, precision), (y, kt)


def _correlate_t_bwd(geo, xv_shape, precision, residuals, z):
  y, kt = residuals
  if _narrow(y):
    return _correlate_t_bwd_narrow(geo, precision, y, kt, z)
  # Likewise, y's and the kernel's transforms again, made to depend on z;
  # z's transform serves both gradients.
  g = _transform_output_adjoint(matmul_conv._after(y, z), geo)
  v = _transform_input(z, geo)
  u = _transposed(_transform_kernel(matmul_conv._after(kt, z), geo))
  grad_kt = _transform_kernel_adjoint(
    _transposed(_kernel_grads(v, g, precision)), geo
  )
  products = _products(v, u, precision)
  # The kernel's gradient waits for the input gradient's products, the
  # last to read the kernel (through u), so that the optimizer overwrites
  # the kernel in place: without this, XLA copies each donated kernel at
  # the start of the step to keep the old one (10 MB a step for dcgan32,
  # 42 MB for dcgan64). And the input's gradient waits for the kernel's,
  # so that XLA takes the kernel's while v and g are alive, not at the end
  # of the step (as matmul_conv's does). Neither is in _correlate_bwd. A
  # discriminator's layer needs only its input's gradient in the G update,
  # and the second tie would compute its kernel's there for nothing; the
  # first, tried there, took dcgan64's temporaries from 1,172 to 2,167 MB.
  grad_kt = matmul_conv._after(grad_kt, *products)
  grad_y = _transform_output(products, geo, z.shape[0])
  return matmul_conv._after(grad_y, grad_kt), grad_kt


def _correlate_t_bwd_narrow(geo, precision, y, kt, z):
  """:func:`_correlate_t_bwd` in the standard layout, rounded to ``y``'s
  dtype: the kernel's transform from the kernel with its matrix axes
  swapped, and y's with its channels first (the kernel gradient's left
  operand, (C, tiles)). The same ties between the gradients."""
  dtype = y.dtype
  v = _rounded(_transform_input(z, geo), dtype)
  u = _transform_kernel(jnp.swapaxes(matmul_conv._after(kt, z), 2, 3), geo)
  gt = _transform_output_adjoint_t(_wide(matmul_conv._after(y, z)), geo)
  grad_kt = _transform_kernel_adjoint(
    _products(_rounded(gt, dtype), v, precision), geo
  )
  products = _products(v, _rounded(u, dtype), precision)
  grad_kt = matmul_conv._after(grad_kt, *products)
  grad_y = _transform_output(products, geo, z.shape[0]).astype(dtype)
  return matmul_conv._after(grad_y, grad_kt), grad_kt


_correlate_t.defvjp(_correlate_t_fwd, _correlate_t_bwd)


class Conv(matmul_conv.Conv):
  """``nn.Conv`` (NHWC, 2-D) computed by :func:`conv`: same parameters."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    return self._apply(conv, x)


class ConvTranspose(matmul_conv.Conv):
  """``nn.ConvTranspose`` (NHWC, 2-D, ``transpose_kernel=False``) computed
  by :func:`conv_transpose`: same parameters."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    return self._apply(conv_transpose, x)
