"""Convolutions computed as matrix multiplications, for XLA:CPU.

XLA:CPU runs convolutions well below the speed of its matrix multiplication,
and a strided convolution's input gradient or a transposed convolution (an
input-dilated convolution) tens of times slower still. These functions
compute the same results as ``lax.conv_general_dilated`` and
``lax.conv_transpose`` (NHWC, HWIO; tested to float rounding) from stride-1
pieces and one matrix multiplication:

- ``conv`` gathers the patches (im2col) from the padded input viewed as
  (rows/s, s, cols/s, s·C_in), in the kernel's own (k_h, k_w, C_in) order,
  and multiplies them with the kernel. Its backward pass keeps the input,
  not the patches (4 times larger for a 4×4, stride-2 kernel), and takes
  the kernel's gradient one window of the patch at a time;
- ``conv_transpose`` multiplies each input pixel with the whole kernel
  (one matrix multiplication into kh·kw·C_out columns) and adds the
  products into the output, viewed likewise, where their taps land: a sum
  of ceil(k/s)² shifted slices, accumulated in place. This is col2im, the
  output-side form: it moves kh·kw·C_out numbers per input pixel where
  im2col moves kh·kw·C_in per output pixel, which makes a generator's last
  layer (few output channels) cheap, and it has the direct convolution's
  FLOPs where the sub-pixel form (Shi et al. 2016) computes (n+1)² blocks
  for n².

The FLOPs are those of the direct convolution (for k divisible by s), and
every gradient is again a matrix multiplication or a sum of shifted slices.
Products accumulate in float32 at least, and so do the overlap-adds: in
bfloat16 (mixed precision) each result is rounded once, and the products
run on the CPU's bfloat16 instructions where it has them (:func:`_dot`).
The kernels are the usual ``(kh, kw, C_in, C_out)`` arrays, rearranged
inside the functions, so parameters, initialisation and checkpoints are the
same as Flax's ``nn.Conv`` and ``nn.ConvTranspose`` (the modules below).
benchmarks/README.md has the measurements.
"""

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

Padding = str | Sequence[tuple[int, int]]
# In bfloat16, a kernel gradient is computed transposed where its patches
# have at least this many rows (b·h_out·w_out) per output channel
# (:func:`_kernel_grad_standard`). Measured on dcgan32 and dcgan64 in one
# process: D's layers with 2 rows per channel are faster the other way,
# those with 16 or more this way.
MIN_ROWS_PER_OUTPUT = 8


def conv(
  x: jax.Array,
  kernel: jax.Array,
  strides: Sequence[int],
  padding: Padding,
  precision=None,
) -> jax.Array:
  """``lax.conv_general_dilated(x, kernel, strides, padding)`` in NHWC/HWIO.

  Computed as one matrix multiplication of the patches (im2col) with the
  kernel. With m = ceil(k/s), padded input row s·(q + i) + r (i < m, r < s)
  is row (q + i, r) of the padded input viewed as (rows/s, s, cols/s, s·C),
  and likewise for columns, where the s neighbouring pixels are s·C
  contiguous numbers. So the patch of output (q_h, q_w) is m_h·s_h·m_w
  slices of that view, taken in the kernel's own (k_h, k_w, C) order: no
  transpose of the input or the kernel.
  """
  ks = kernel.shape[:2]
  b, o = x.shape[0], kernel.shape[-1]
  sh = strides[0]
  pads, (ho, wo) = _conv_outputs(x.shape[1:3], ks, strides, padding)
  if _nothing_to_compute(x, kernel, (ho, wo)):
    return _zeros_as_lax(lax.conv_general_dilated, x, kernel, strides, padding)
  (mh, mw) = ms = _taps(ks, strides)
  config = _pad_config(x.shape, strides, ms, (ho, wo), pads)
  x = _super_pixels(x, (config, strides))
  kernel = _pad_kernel(kernel, ms, strides)
  geometry = (mh, sh, mw, ho, wo)
  y = _patch_matmul(x, kernel, geometry, precision)
  return y.reshape(b, ho, wo, o)


def _windows(x, geometry, axis=0):
  """The patch's mh·sh·mw windows of the (b, rows/s, s, cols/s, s·C) view
  of the padded input, each (b, ho, wo, s·C), in the kernel's row order.
  With ``axis=1`` the view is (s·C, b, rows/s, s, cols/s) and the windows
  are (s·C, b, ho, wo)."""
  mh, sh, mw, ho, wo = geometry
  lead = (slice(None),) * (axis + 1)
  return [
    x[(*lead, slice(i, i + ho), r, slice(j, j + wo))]
    for i in range(mh)
    for r in range(sh)
    for j in range(mw)
  ]


def _patches(x, geometry, reverse=False):
  """The (b·ho·wo, mh·sh·mw·sw·C) patch matrix of the (b, rows/s, s,
  cols/s, s·C) view of the padded input; with ``reverse``, its windows
  (column groups of s·C) in reverse order."""
  _, _, _, ho, wo = geometry
  windows = _windows(x, geometry)[:: -1 if reverse else 1]
  # Stacking on a new axis is faster on XLA:CPU than concatenating.
  patches = windows[0] if len(windows) == 1 else jnp.stack(windows, axis=-2)
  return patches.reshape(x.shape[0] * ho * wo, -1)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _overlap_add(patches, geometry):
  """The transpose of :func:`_patches` (col2im): each row of ``patches``
  added into the (b, ho + mh - 1, sh, wo + mw - 1, sw·C) view where its
  windows lie, one shifted slice per window column group, in place.

  Its gradient is :func:`_patches` itself, a stack of slices; JAX's own
  transpose of these updates is a sum of zero-padded copies, slower on
  XLA:CPU, and in bfloat16 rounded at every partial sum. Callers pass the
  products in float32 (:func:`_dot`), so the sums are float32 ones.
  """
  mh, sh, mw, ho, wo = geometry
  b = patches.shape[0] // (ho * wo)
  p = patches.reshape(b, ho, wo, mh, sh, mw, -1)
  full = jnp.zeros((b, ho + mh - 1, sh, wo + mw - 1, p.shape[-1]), p.dtype)
  for i in range(mh):
    for j in range(mw):
      part = p[:, :, :, i, :, j].transpose(0, 1, 3, 2, 4)
      full = full.at[:, i : i + ho, :, j : j + wo].add(part)
  return full


def _overlap_add_fwd(patches, geometry):
  return _overlap_add(patches, geometry), None


def _overlap_add_bwd(geometry, _, g):
  return (_patches(g, geometry),)


_overlap_add.defvjp(_overlap_add_fwd, _overlap_add_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _patch_matmul(x, kernel, geometry, precision):
  """``_patches(x) @ kernel`` (the padded (kh, kw, C, O) kernel as a matrix),
  keeping ``x`` for the backward pass instead of the patches, which are
  mh·sh·mw times larger (4 for a 4×4, stride-2 kernel): the backward pass
  gathers them again, a memory copy."""
  patches = _moved(functools.partial(_patches, geometry=geometry), x)
  y = _dot(patches, kernel.reshape(-1, kernel.shape[-1]), precision)
  return y.astype(patches.dtype)


def _patch_matmul_fwd(x, kernel, geometry, precision):
  return _patch_matmul(x, kernel, geometry, precision), (x, kernel)


def _patch_matmul_bwd(geometry, precision, residuals, g):
  x, kernel = residuals
  c, o = x.shape[-1], kernel.shape[-1]
  if _standard_layout(x):
    grad_kernel = _kernel_grad_standard(x, g, geometry, o, precision)
    kernel_t = jnp.moveaxis(kernel, -1, 0).reshape(o, -1)
  else:
    # Window by window: a stack of the patches here would be merged with
    # the forward pass's (XLA's CSE; optimization barriers are gone by
    # then on CPU) and kept alive in between.
    windows = [w.reshape(-1, c).T for w in _windows(x, geometry)]
    kernel_t = kernel.reshape(-1, o).T
    grad_kernel = jnp.concatenate([_dot(w, g, precision) for w in windows])
  grad_patches = _dot(g, kernel_t, precision)
  # JAX's transpose of the gather, not _overlap_add: the same sums, and 3
  # to 7% faster for the float32 dcgan32 step (equal in bfloat16).
  gather = functools.partial(_patches, geometry=geometry)
  shape = jax.ShapeDtypeStruct(x.shape, grad_patches.dtype)
  (grad_x,) = jax.linear_transpose(gather, shape)(grad_patches)
  grad_kernel = grad_kernel.reshape(kernel.shape).astype(kernel.dtype)
  return grad_x.astype(x.dtype), grad_kernel


_patch_matmul.defvjp(_patch_matmul_fwd, _patch_matmul_bwd)


def _kernel_grad_standard(x, g, geometry, o, precision):
  """``patchesᵀ @ g``, the (mh·sh·mw·sw·C, O) kernel gradient, from
  products in the standard layout (:func:`_dot`). One operand must be
  rearranged with its rows first, and XLA:CPU rearranges 16-bit data at
  about 1 GB/s, so the smaller one is:

  - the output gradient ``g``, for ``(gᵀ @ patches)ᵀ``, where the patches
    have at least ``MIN_ROWS_PER_OUTPUT`` rows per output channel. The
    windows are stacked in reverse, so that XLA does not merge these
    patches with the forward pass's (CSE) and keep those alive in
    between, and put back in order in the result; that result's
    transpose (XLA repeats it in each of the optimizer's passes over the
    gradient) costs less than rearranging the patches;
  - else the patches, stacked channels-first in one pass (window by
    window, XLA would transpose the whole input again for each).
  """
  c = x.shape[-1]
  b, (ho, wo) = x.shape[0], geometry[3:]
  if b * ho * wo >= MIN_ROWS_PER_OUTPUT * o:
    patches = functools.partial(_patches, geometry=geometry, reverse=True)
    g_t = _moved(lambda g: _channels_first(g.reshape(b, ho, wo, o)), g)
    grad_t = _dot(g_t, _moved(patches, x), precision)
    return grad_t.reshape(o, -1, c)[:, ::-1].reshape(o, -1).T

  def patches_t(x):
    x_t = jnp.moveaxis(x, -1, 0)
    windows = _windows(x_t, geometry, axis=1)
    return jnp.concatenate([w.reshape(c, -1) for w in windows])

  return _dot(_moved(patches_t, x), g, precision)


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

  Computed from the output side (col2im): each input pixel times the whole
  kernel, ``x @ K`` with K of shape (C_in, kh·kw·C_out), and the products
  added into the output where each tap lands. Input pixel i and tap t land on
  output s·i + t of the full transposed convolution (the kernel flipped, as
  lax correlates the dilated input with it). Writing t = s·u + r, that is
  row (i + u, r) of the output viewed as (rows/s, s, cols/s, s·C_out), so
  the products of the m_h·m_w tap groups u are shifted slices added into
  that view (moving runs of s·C_out contiguous numbers), which is the
  output; it is then cropped or padded to lax's output.
  """
  (b, h, w, _), o = x.shape, kernel.shape[-1]
  outs = _transposed_outputs((h, w), kernel.shape[:2], strides, padding)
  if _nothing_to_compute(x, kernel, outs):
    return _zeros_as_lax(lax.conv_transpose, x, kernel, strides, padding)
  (sh, sw) = strides
  (mh, mw) = ms = _taps(kernel.shape[:2], strides)
  flipped = _pad_kernel(kernel[::-1, ::-1], ms, strides)
  # (b·h·w, (t_h, t_w, O)) products, in float32 at least, added into the
  # (b, h + mh - 1, sh, w + mw - 1, sw·O) view of the output.
  y = _tap_matmul(x, flipped, precision)
  full = _overlap_add(y, (mh, sh, mw, h, w)).astype(x.dtype)
  full = full.reshape(b, (h + mh - 1) * sh, (w + mw - 1) * sw, o)
  return _crop_transposed(full, (h, w), kernel.shape[:2], strides, padding)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _tap_matmul(x, kernel, precision):
  """Each pixel of ``x`` (b, h, w, C) times the whole (t_h, t_w, C, O)
  kernel: (b·h·w, C) @ (C, t_h·t_w·O), in float32 at least (the overlap-add
  that follows accumulates in it)."""
  c = x.shape[-1]
  taps = jnp.moveaxis(kernel, 2, 0).reshape(c, -1)
  return _dot(x.reshape(-1, c), taps, precision)


def _tap_matmul_fwd(x, kernel, precision):
  return _tap_matmul(x, kernel, precision), (x, kernel)


def _tap_matmul_bwd(precision, residuals, g):
  """In the standard layout (see _dot), the kernel's gradient takes the
  input with its channels first, the input's the kernel with its input
  channels last, each rearranged from its 4-D array. Otherwise the
  kernel's gradient is computed as ``(g.T @ a).T`` for a tall ``a`` wider
  than ``g``: XLA:CPU runs ``a.T @ g`` at about half its float32 matmul
  speed there (a generator's last layer: 128 input channels, 48 tap
  outputs), and the transpose back, a slow pass over the result, pays
  where the rows are many (at least twice the columns of ``a``)."""
  x, kernel = residuals
  (th, tw, c, o), g = kernel.shape, g.astype(x.dtype)
  if _standard_layout(x):
    kernel_t = jnp.swapaxes(kernel, 2, 3).reshape(-1, c)
    grad_taps = _dot(_moved(_channels_first, x), g, precision)
  else:
    kernel_t = jnp.moveaxis(kernel, 2, 0).reshape(c, -1).T
    a, (rows, g_width) = x.reshape(-1, c), g.shape
    if c > g_width and rows >= 2 * c:
      grad_taps = _dot(g.T, a, precision).T
    else:
      grad_taps = _dot(a.T, g, precision)
  grad_x = _dot(g, kernel_t, precision).reshape(x.shape).astype(x.dtype)
  grad_kernel = jnp.moveaxis(grad_taps.reshape(c, th, tw, o), 0, 2)
  return _after(grad_x, grad_taps), grad_kernel.astype(kernel.dtype)


_tap_matmul.defvjp(_tap_matmul_fwd, _tap_matmul_bwd)


def _after(x, *ys):
  """``x``, made to depend on each of ``ys``, so that XLA computes them
  first.

  A kernel's gradient is needed only by the optimizer, at the end of the
  step, and XLA:CPU's scheduler leaves it there, keeping alive the output
  gradient it reads: 768 MB of dcgan64's peak at batch 256, for two
  transposed convolutions. An optimization barrier orders nothing there
  (XLA:CPU removes them before scheduling). ``x · (1 + Σ 0·yₘ)`` is
  ``x``, bit for bit, for any finite ``yₘ`` (XLA does not fold ``0·y`` for
  floats); a non-finite kernel gradient means that the step is non-finite
  anyway.
  ``yₘ`` is the element in the middle of every axis, not the first: a
  transposed convolution's output gradient is padded back to the uncropped
  output, where XLA folds the first element, padding, to the constant 0,
  and the dependence with it (which kept 50 MB more alive at dcgan64's peak
  at batch 256).
  """
  zeros = [0 * y[tuple(n // 2 for n in y.shape)] for y in ys]
  return x * (1 + sum(zeros[1:], zeros[0])).astype(x.dtype)


def _standard_layout(x) -> bool:
  """Whether products with ``x`` must take their operands in the standard
  layout (:func:`_dot`): in bfloat16 and float16. XLA:CPU multiplies
  float32 matrices at the same speed either way, and there the
  rearrangement would be an extra pass over the operand (measured: 3 to
  8% of the dcgan32 step). It is one on GPUs too, whose matmuls take any
  layout, but there ``conv_impl=auto`` uses XLA's convolutions."""
  return jnp.dtype(x.dtype).itemsize < 4


def _channels_first(a):
  """The (C, rest) matrix of ``a``'s elements, its last axis first: a
  product's left operand in the standard layout, from the array itself
  (a transpose of the (rest, C) matrix would be folded into the product,
  :func:`_dot`)."""
  return jnp.moveaxis(a, -1, 0).reshape(a.shape[-1], -1)


def _moved(fn, x):
  """``fn(x)`` for an ``fn`` that only moves elements (slices, stacks,
  transposes, reshapes, padding with zeros) into an array or a list of
  arrays. For a 16-bit float ``x`` it moves their bits, as unsigned
  integers: XLA:CPU moves bfloat16 and float16 elements through float32,
  converting each one there and back (im2col's gather of a 64×18×18×128
  bfloat16 input: 5.5 ms, 0.9 ms as integers). The same values, bit for
  bit, and ``fn``'s own derivatives."""
  if jnp.issubdtype(x.dtype, jnp.floating) and x.dtype.itemsize == 2:
    return _moved_bits(fn, x)
  return fn(x)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _moved_bits(fn, x):
  moved = fn(lax.bitcast_convert_type(x, jnp.uint16))
  return jax.tree.map(lambda m: lax.bitcast_convert_type(m, x.dtype), moved)


@_moved_bits.defjvp
def _moved_bits_jvp(fn, primals, tangents):
  # Integers have no tangents: the tangents are moved as they are.
  (x,), (t,) = primals, tangents
  return _moved_bits(fn, x), fn(t)


def _dot(a, b, precision):
  """``a @ b``, accumulated and returned in float32 at least.

  For bfloat16 inputs XLA:CPU then uses the CPU's bfloat16 dot-product
  instructions where it has them (AVX-512 BF16: a 2048² product at 960
  GFLOP/s against 470 in float32 and 340 for a bfloat16 result), as GPUs
  and TPUs accumulate bfloat16 products in float32 anyway. It does so only
  in the standard layout, ``a``'s columns against ``b``'s rows: for a
  transposed operand (``a.T @ g``, ``g @ b.T``) it converts both to float32
  first, which is slower than float32 throughout. So in bfloat16 every
  product here takes its operands in that layout, rearranged from their
  4-D arrays (a transpose of the matrix itself would be folded back into
  the product).
  """
  wide = jnp.promote_types(jnp.result_type(a, b), jnp.float32)
  return jnp.dot(a, b, precision=precision, preferred_element_type=wide)


def _taps(ks, strides):
  """m = ceil(k/s) per axis: the kernel's taps over s×s super-pixels."""
  return tuple(math.ceil(k / s) for k, s in zip(ks, strides))


def _conv_outputs(sizes, ks, strides, padding):
  """A convolution's padding and output size per axis, as lax's."""
  pads = _conv_pads(sizes, ks, strides, padding)
  outs = tuple(
    (n + lo + hi - k) // s + 1
    for n, k, s, (lo, hi) in zip(sizes, ks, strides, pads)
  )
  return pads, outs


def _transposed_outputs(sizes, ks, strides, padding):
  """A transposed convolution's output size per axis, as lax's (for
  inputs of at least one pixel): (n - 1)·s + 1 rows of the dilated input,
  padded, correlated with the kernel."""
  return tuple(
    (n - 1) * s + lo + hi - k + 2
    for n, k, s, (lo, hi) in zip(
      sizes, ks, strides, _transpose_pads(ks, strides, padding)
    )
  )


def _nothing_to_compute(x, kernel, outs) -> bool:
  """Whether a convolution of ``x`` with ``kernel`` into ``outs`` output
  rows and columns (lax's formula, before lax clamps it at 0) is empty, or
  sums nothing: an operand with no elements. The im2col and col2im views
  and the Winograd tiles assume at least one output and one input pixel."""
  return min(outs) <= 0 or x.size == 0 or kernel.size == 0


def _zeros_as_lax(lax_fn, x, kernel, strides, padding):
  """The zeros that ``lax_fn`` (``lax.conv_general_dilated`` or
  ``lax.conv_transpose``, NHWC/HWIO) returns where there is nothing to
  compute: its shape (and its errors, for padding it refuses), ``x``'s
  dtype. A constant, so its gradients are zeros, as lax's are there."""

  def lax_conv(x, kernel):
    dims = ("NHWC", "HWIO", "NHWC")
    return lax_fn(x, kernel, strides, padding, dimension_numbers=dims)

  spec = jax.ShapeDtypeStruct
  out = jax.eval_shape(
    lax_conv, spec(x.shape, x.dtype), spec(kernel.shape, x.dtype)
  )
  return jnp.zeros(out.shape, x.dtype)


def _pad_config(shape, strides, ms, outs, pads):
  """The ``lax.pad`` configuration, as a tuple, that pads (or crops) an
  input of ``shape`` on each side to exactly (out + m - 1)·s rows and
  columns: the super-pixels that ``outs`` outputs of m taps read."""
  config = [(0, 0, 0)]
  for n, s, m, q, (lo, _) in zip(shape[1:3], strides, ms, outs, pads):
    config.append((lo, (q + m - 1) * s - n - lo, 0))
  return (*config, (0, 0, 0))


def _super_pixels(x, view):
  """``x`` padded (or cropped) by ``view``'s configuration (from
  :func:`_pad_config`) and viewed as (b, rows/s_h, s_h, cols/s_w, s_w·C);
  ``view`` is (configuration, (s_h, s_w))."""
  config, (sh, sw) = view
  x = _moved(lambda x: lax.pad(x, jnp.zeros((), x.dtype), config), x)
  b, h, w, c = x.shape
  return x.reshape(b, h // sh, sh, w // sw, sw * c)


def _pad_kernel(kernel, ms, strides):
  """The (kh, kw, C, O) kernel zero-padded to (m_h·s_h, m_w·s_w, C, O)."""
  (kh, kw), (mh, mw), (sh, sw) = kernel.shape[:2], ms, strides
  return jnp.pad(kernel, ((0, mh * sh - kh), (0, mw * sw - kw), (0, 0), (0, 0)))


def _crop_transposed(full, sizes, ks, strides, padding):
  """lax's transposed convolution from the full one (and zeros after it):
  the full one has (n - 1)·s + k outputs, and lax's padding keeps `size`
  of them from `start` (zeros outside)."""
  config = [(0, 0, 0)]
  for n, k, s, (lo, hi), length in zip(
    sizes, ks, strides, _transpose_pads(ks, strides, padding), full.shape[1:3]
  ):
    start, size = k - 1 - lo, (n - 1) * s + lo + hi - k + 2
    config.append((-start, start + size - length, 0))
  config.append((0, 0, 0))
  return lax.pad(full, jnp.zeros((), full.dtype), config)


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


def add_bias(y: jax.Array, bias: jax.Array) -> jax.Array:
  """``y + bias``, broadcast over ``y``'s last axis. In 16-bit floats
  the bias's gradient, the sum of the output gradient's rows, is a
  product with a row of ones (:func:`_dot`: on the CPU's 16-bit
  instructions, accumulated in float32): XLA:CPU sums a bfloat16 array
  through a float32 copy of it, 128 MB for dcgan64's first D layer at
  batch 256. Measured in one process: 0.918 of the bfloat16 dcgan32
  step's time, 0.972 of dcgan64's at batch 256. In float32 it is JAX's
  own sum (a product there measured the same)."""
  if not _standard_layout(y) or bias.dtype != y.dtype:
    return y + bias
  return _bias_added(y, bias)


@jax.custom_vjp
def _bias_added(y, bias):
  return y + bias


def _bias_added_fwd(y, bias):
  return y + bias, None


def _bias_added_bwd(_, g):
  rows = g.reshape(-1, g.shape[-1])
  ones = jnp.ones((1, rows.shape[0]), g.dtype)
  return g, _dot(ones, rows, None)[0].astype(g.dtype)


_bias_added.defvjp(_bias_added_fwd, _bias_added_bwd)


class Conv(nn.Module):
  """``nn.Conv`` (NHWC, 2-D) computed by :func:`conv`: same parameters."""

  features: int
  kernel_size: Sequence[int]
  strides: int | Sequence[int] = 1
  padding: Padding = "SAME"
  use_bias: bool = True
  kernel_init: Callable = nn.initializers.lecun_normal()
  bias_init: Callable = nn.initializers.zeros_init()
  dtype: Any = None
  param_dtype: Any = jnp.float32
  precision: Any = None

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    return self._apply(conv, x)

  def _apply(self, fn, x):
    strides = self.strides
    strides = (strides, strides) if isinstance(strides, int) else tuple(strides)
    shape = (*self.kernel_size, x.shape[-1], self.features)
    kernel = self.param("kernel", self.kernel_init, shape, self.param_dtype)
    bias = None
    if self.use_bias:
      bias = self.param(
        "bias", self.bias_init, (self.features,), self.param_dtype
      )
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    y = fn(x, kernel, strides, self.padding, self.precision)
    return y if bias is None else add_bias(y, bias)


class ConvTranspose(Conv):
  """``nn.ConvTranspose`` (NHWC, 2-D, ``transpose_kernel=False``) computed by
  :func:`conv_transpose`: same parameters."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    return self._apply(conv_transpose, x)
