"""The Winograd convolutions compute lax's convolutions, values and
gradients, and are taken exactly where they are meant to be. (The DCGAN
with them is the one with XLA's: test_matmul_conv.)"""

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from gan_jax.models import matmul_conv, winograd
from tests.test_matmul_conv import (
  EMPTY_CONV,
  EMPTY_TRANSPOSE,
  QUICK_COMPILE,
  _dot_operand_types,
  _lax_conv,
  _lax_transpose,
  bfloat16_against_float32,
  check_nothing_to_compute,
  out_shape,
  skip_without_bfloat16_products,
  values_and_gradients,
)

EXACT = lax.Precision.HIGHEST
# (kernel, strides): every m = ceil(k/s) of 2 and 3, mixed across the axes,
# and square and odd kernels.
KERNELS = [
  ((4, 4), (2, 2)),  # DCGAN's: m = 2
  ((3, 3), (1, 1)),  # m = 3
  ((2, 2), (1, 1)),  # m = 2, stride 1
  ((3, 3), (2, 2)),  # m = 2, a kernel shorter than 2·s
  ((5, 6), (2, 2)),  # m = 3
  ((4, 3), (2, 1)),  # m = (2, 3), strides (2, 1)
  ((6, 6), (3, 3)),  # m = 2, stride 3
]
PADDINGS = ("SAME", "VALID", ((1, 2), (0, 3)))
CASES = [(k, s, p) for k, s in KERNELS for p in PADDINGS]


def _inputs(ks, n=9, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(2, n, n + 2, 3)).astype(np.float32)
  w = rng.normal(size=(*ks, 3, 4)).astype(np.float32)
  return jnp.asarray(x), jnp.asarray(w)


PAIRS = [
  (winograd.winograd_conv, _lax_conv),
  (winograd.winograd_conv_transpose, _lax_transpose),
]


@pytest.mark.parametrize("ks,s,padding", CASES)
def test_values_and_gradients_match_lax(ks, s, padding):
  x, w = _inputs(ks)
  shapes = [out_shape(theirs, x, w, s, padding) for _, theirs in PAIRS]
  rng = np.random.default_rng(1)
  probes = [rng.normal(size=shape).astype(np.float32) for shape in shapes]

  exact = [functools.partial(f, precision=EXACT) for f, _ in PAIRS]
  ours = values_and_gradients(exact, probes, x, w, s, padding)
  theirs = values_and_gradients([f for _, f in PAIRS], probes, x, w, s, padding)
  for got, want in zip(ours, theirs):
    assert got[0].shape == want[0].shape
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-4)
    for g, e in zip(got[1:], want[1:]):
      np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("hw,ks,s,padding", EMPTY_CONV)
def test_conv_with_nothing_to_compute_is_lax(hw, ks, s, padding, dtype):
  """No output rows or columns, or no input: lax's empty array (or zeros)
  and zero gradients, where the tiles would need an output and an input."""
  check_nothing_to_compute(
    winograd.winograd_conv, _lax_conv, hw, ks, s, padding, dtype
  )


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("hw,ks,s,padding", EMPTY_TRANSPOSE)
def test_conv_transpose_with_nothing_to_compute_is_lax(
  hw, ks, s, padding, dtype
):
  check_nothing_to_compute(
    winograd.winograd_conv_transpose, _lax_transpose, hw, ks, s, padding, dtype
  )


@pytest.mark.parametrize(
  "ours,theirs,ks,s",
  [
    (winograd.winograd_conv, _lax_conv, (4, 4), (2, 2)),
    (winograd.winograd_conv, _lax_conv, (3, 3), (1, 1)),
    (winograd.winograd_conv_transpose, _lax_transpose, (4, 4), (2, 2)),
    (winograd.winograd_conv_transpose, _lax_transpose, (3, 3), (1, 1)),
    (matmul_conv.conv, _lax_conv, (4, 4), (2, 2)),
    (matmul_conv.conv_transpose, _lax_transpose, (4, 4), (2, 2)),
  ],
  ids=[
    "winograd_conv",
    "winograd_conv_3x3",
    "winograd_conv_transpose",
    "winograd_conv_transpose_3x3",
    "matmul_conv",
    "matmul_conv_transpose",
  ],
)
def test_second_derivatives_match_lax(ours, theirs, ks, s):
  """Gradient penalties (R1, WGAN-GP) differentiate D's input gradient
  again: the backward passes (custom VJPs) are differentiable too, and
  give lax's second derivatives, for each function and kernel a model's
  layer may take (the transposed ones included)."""
  x, w = _inputs(ks, n=8)

  def penalty(conv):
    def input_grad_norm(x, w):
      g = jax.grad(lambda x: jnp.sum(jnp.sin(conv(x, w))))(x)
      return jnp.sum(g**2)

    return jax.jit(
      jax.grad(input_grad_norm, argnums=(0, 1)), compiler_options=QUICK_COMPILE
    )(x, w)

  got = penalty(lambda x, w: ours(x, w, s, "SAME"))
  want = penalty(lambda x, w: theirs(x, w, s, "SAME"))
  for g, e in zip(got, want):
    np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-3)


def test_unsupported_taps_are_refused():
  assert winograd.supported((2, 3))
  assert not winograd.supported((4, 2))  # a 4×4 stride-1 kernel
  assert not winograd.supported((1, 1))  # 1×1, or 2×2 at stride 2


def test_dcgan32_layers_take_the_path_measured_to_pay(monkeypatch):
  """On dcgan32 (batch 64, width 128): D's inner convolutions and G's
  4×4 → 8×8 and 8×8 → 16×16 transposed ones; not D's first (3 input
  channels) or G's last (3 outputs). A transposed one needs a 2×2 input
  tile for every two input channels (batch 64 at 4×4 × 1,024 does not,
  nor batch 4 at 8×8 × 256). In bfloat16 the same, except G's 4×4 → 8×8
  layer: there a transposed one needs a tile for every input channel
  (dcgan64's first layer at batch 256 has one), on a CPU without bfloat16
  tiles (the rule with them is the next test's). float16 never."""
  monkeypatch.setattr(winograd, "bfloat16_tiles", lambda: False)
  f32, bf16 = jnp.float32, jnp.bfloat16

  def conv(shape, dtype=f32, kernel=(4, 4, 0, 0), strides=(2, 2)):
    x = jax.ShapeDtypeStruct(shape, dtype)
    return winograd.conv_pays(x, kernel, strides, "SAME")

  def transpose(shape, out, dtype=f32):
    x = jax.ShapeDtypeStruct(shape, dtype)
    return winograd.conv_transpose_pays(x, (4, 4, shape[-1], out), (2, 2))

  assert conv((64, 16, 16, 128)) and conv((64, 8, 8, 256))
  assert conv((64, 16, 16, 128), bf16) and conv((64, 8, 8, 256), bf16)
  assert not conv((64, 32, 32, 3))
  assert not conv((64, 32, 32, 3), bf16)
  assert not conv((64, 16, 16, 128), jnp.float16)
  assert not conv((64, 4, 4, 512), kernel=(4, 4), strides=(1, 1))
  assert conv((64, 8, 8, 64), kernel=(3, 3), strides=(1, 1))
  assert transpose((64, 8, 8, 256), 128)
  assert transpose((64, 4, 4, 512), 256)
  assert transpose((256, 4, 4, 1024), 512)  # dcgan64 at batch 256
  assert not transpose((64, 4, 4, 1024), 512)
  assert not transpose((4, 8, 8, 256), 128)
  assert not transpose((64, 2, 2, 512), 256)
  assert not transpose((64, 16, 16, 128), 3)
  assert transpose((64, 8, 8, 256), 128, bf16)
  assert not transpose((64, 4, 4, 512), 256, bf16)
  assert transpose((256, 4, 4, 1024), 512, bf16)
  assert not transpose((64, 16, 16, 128), 3, bf16)
  assert not transpose((4, 8, 8, 256), 128, bf16)


def test_bfloat16_takes_im2col_on_cpus_with_bfloat16_tiles(monkeypatch):
  """With AMX, no layer takes the Winograd path in bfloat16 (its products
  are cheap enough that no transform pays), and float32's rule stands."""
  monkeypatch.setattr(winograd, "bfloat16_tiles", lambda: True)
  for dtype, pays in [(jnp.bfloat16, False), (jnp.float32, True)]:
    x = jax.ShapeDtypeStruct((64, 16, 16, 128), dtype)
    assert winograd.conv_pays(x, (4, 4, 128, 256), (2, 2), "SAME") == pays
    x = jax.ShapeDtypeStruct((256, 4, 4, 1024), dtype)
    assert winograd.conv_transpose_pays(x, (4, 4, 1024, 512), (2, 2)) == pays

  def refused(*args):
    pytest.fail("took the Winograd path")

  monkeypatch.setattr(winograd, "winograd_conv", refused)
  rng = np.random.default_rng(7)  # Shapes that take the path without AMX.
  x = jnp.asarray(rng.normal(size=(2, 8, 8, 16)), jnp.bfloat16)
  k = jnp.asarray(rng.normal(size=(4, 4, 16, 16)), jnp.bfloat16)
  np.testing.assert_array_equal(
    winograd.conv(x, k, (2, 2), "SAME"),
    matmul_conv.conv(x, k, (2, 2), "SAME"),
  )


@pytest.mark.parametrize(
  "text,tiles",
  [
    ("processor\t: 0\nflags\t\t: fpu avx512_bf16 amx_bf16 amx_tile\n", True),
    ("processor\t: 0\nflags\t\t: fpu avx512_bf16 amx_tile\n", False),
    ("processor\t: 0\nFeatures\t: fp asimd bf16\n", False),  # Arm
    (None, False),  # no /proc/cpuinfo: not Linux
  ],
)
def test_bfloat16_tiles_are_read_from_cpuinfos_flags(tmp_path, text, tiles):
  cpuinfo = tmp_path / "cpuinfo"
  if text is not None:
    cpuinfo.write_text(text)
  assert winograd.bfloat16_tiles.__wrapped__(str(cpuinfo)) is tiles


# Each m and a stride-1 kernel, in the paddings that need cropping.
BFLOAT16_CASES = [
  ((4, 4), (2, 2), "SAME"),
  ((3, 3), (1, 1), "VALID"),
  ((5, 6), (2, 2), ((1, 2), (0, 3))),
  ((4, 3), (2, 1), "SAME"),
]


@pytest.mark.parametrize("ks,s,padding", BFLOAT16_CASES)
def test_bfloat16_is_lax_in_float32_within_the_transforms_rounding(
  ks, s, padding
):
  """In bfloat16 the transforms are computed in float32 and rounded to
  bfloat16 for the products, which accumulate in float32: values and
  gradients are lax's float32 results on the same bfloat16 inputs, up to
  those roundings. Each product's operands are rounded sums of a few
  terms, so the error is a few 2⁻⁹ of the largest terms (measured: at
  most 1% of the largest output), where a layout or transform mistake
  would be of the order of the outputs."""
  x, w = (a.astype(jnp.bfloat16) for a in _inputs(ks, n=9, seed=3))
  for g, e in bfloat16_against_float32(PAIRS, x, w, s, padding):
    np.testing.assert_allclose(g, e, rtol=2**-7, atol=2**-6 * abs(e).max())


@pytest.mark.parametrize(
  # DCGAN's kernel, and m = (2, 3) at strides (2, 1): both tap counts.
  "ks,s,products",
  [((4, 4), (2, 2), 9), ((4, 3), (2, 1), 12)],
)
def test_bfloat16_products_stay_in_bfloat16_on_cpu(ks, s, products):
  """Every product of both convolutions, forward and backward, reaches
  XLA:CPU with bfloat16 operands (in the standard layout; see
  test_matmul_conv's test of the same name): (m_h + 1)·(m_w + 1)
  products for each of the three passes."""
  skip_without_bfloat16_products()
  rng = np.random.default_rng(5)
  x = jnp.asarray(rng.normal(size=(2, 8, 8, 16)), jnp.bfloat16)
  w = jnp.asarray(rng.normal(size=(*ks, 16, 16)), jnp.bfloat16)
  for fn, _ in PAIRS:

    def loss(x, w, fn=fn):
      return jnp.sum(fn(x, w, s, "SAME").astype(jnp.float32) ** 2)

    step = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    found = _dot_operand_types(step.lower(x, w).compile().as_text())
    assert found == [("bf16", "bf16")] * (3 * products)


@pytest.mark.parametrize("ours,theirs", PAIRS, ids=["conv", "transpose"])
def test_float16_is_computed_in_float32(ours, theirs):
  """float16, whose products XLA:CPU makes in float32 anyway, is not
  rounded through float16 transforms: the values are the float32 ones on
  the same inputs, rounded once."""
  x, w = (a.astype(jnp.float16) for a in _inputs((4, 4)))
  got = ours(x, w, (2, 2), "SAME")
  wide = ours(x.astype(jnp.float32), w.astype(jnp.float32), (2, 2), "SAME")
  assert got.dtype == jnp.float16
  np.testing.assert_array_equal(got, wide.astype(jnp.float16))


@pytest.mark.parametrize(
  "ours,theirs,rows",
  [
    *((ours, theirs, None) for ours, theirs in PAIRS),
    (matmul_conv.conv, _lax_conv, 0),
    (matmul_conv.conv, _lax_conv, 10**9),
    (matmul_conv.conv_transpose, _lax_transpose, None),
  ],
  ids=[
    "conv",
    "transpose",
    "matmul_conv_g_first",
    "matmul_conv_patches_first",
    "matmul_conv_transpose",
  ],
)
def test_bfloat16_second_derivatives_are_lax_in_float32(
  ours, theirs, rows, monkeypatch
):
  """A gradient penalty in mixed precision differentiates the bfloat16
  backward passes (their own layouts, and matmul_conv's gathers of bits)
  again: lax's float32 second derivatives, to within 2⁻⁵ of the largest
  (measured: 1.4% for Winograd), for either way of matmul_conv's kernel
  gradient."""
  if rows is not None:
    monkeypatch.setattr(matmul_conv, "MIN_ROWS_PER_OUTPUT", rows)
  rng = np.random.default_rng(6)
  x = jnp.asarray(rng.normal(size=(2, 8, 8, 16)), jnp.bfloat16)
  w = jnp.asarray(rng.normal(size=(4, 4, 16, 16)) * 0.1, jnp.bfloat16)

  def penalty_grads(conv, x, w):
    def input_grad_norm(x, w):
      y = lambda x: jnp.sum(jnp.sin(conv(x, w).astype(jnp.float32)))
      return jnp.sum(jax.grad(y)(x).astype(jnp.float32) ** 2)

    return jax.jit(
      jax.grad(input_grad_norm, argnums=(0, 1)), compiler_options=QUICK_COMPILE
    )(x, w)

  got = penalty_grads(lambda x, w: ours(x, w, (2, 2), "SAME"), x, w)
  f32 = [a.astype(jnp.float32) for a in (x, w)]
  want = penalty_grads(lambda x, w: theirs(x, w, (2, 2), "SAME"), *f32)
  for g, e in zip(got, want):
    assert g.dtype == jnp.bfloat16
    e = np.asarray(e)
    np.testing.assert_allclose(
      np.asarray(g, np.float32), e, atol=2**-5 * abs(e).max()
    )


def test_elsewhere_it_is_matmul_conv_bit_for_bit():
  x, w = _inputs((4, 4))
  np.testing.assert_array_equal(
    winograd.conv(x, w, (2, 2), "SAME"), matmul_conv.conv(x, w, (2, 2), "SAME")
  )
  np.testing.assert_array_equal(
    winograd.conv_transpose(x, w, (2, 2), "SAME"),
    matmul_conv.conv_transpose(x, w, (2, 2), "SAME"),
  )


def test_an_update_overwrites_a_transposed_kernel_in_place():
  """The transposed convolution's kernel gradient waits for the last
  reads of the kernel, the input gradient's products: otherwise XLA
  copies the donated kernel before an update that overwrites it (10 MB a
  step for dcgan32's generator). One SGD step, input and kernel learned."""
  rng = np.random.default_rng(0)
  shape = (4, 4, 8, 32)
  params = {
    "x": jnp.asarray(rng.normal(size=(2, 4, 4, 8)), jnp.float32),
    "k": jnp.asarray(rng.normal(size=shape), jnp.float32),
  }
  target = jnp.asarray(rng.normal(size=(2, 8, 8, 32)), jnp.float32)
  assert winograd.conv_transpose_pays(params["x"], shape, (2, 2))

  def sgd(params, target):
    def loss(p):
      y = winograd.conv_transpose(p["x"], p["k"], (2, 2), "SAME")
      return jnp.sum((y - target) ** 2)

    grads = jax.grad(loss)(params)
    return jax.tree.map(lambda p, g: p - 0.1 * g, params, grads)

  compiled = jax.jit(sgd, donate_argnums=0).lower(params, target).compile()
  text = compiled.as_text()
  entry = text[text.index("\nENTRY") :]
  kernels = re.findall(r"%(\S+) = f32\[4,4,8,32\]\S* parameter\(", entry)
  assert len(kernels) == 1
  copies = [line for line in entry.splitlines() if " copy(" in line]
  assert not [c for c in copies if f"%{kernels[0]})" in c], copies
