"""The matmul convolutions compute lax's convolutions, values and gradients."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from gan_jax.models import matmul_conv
from gan_jax.models.dcgan import Discriminator, Generator

DIMS = ("NHWC", "HWIO", "NHWC")
EXACT = lax.Precision.HIGHEST
CASES = [
  (k, s, padding)
  for k in (3, 4, 5)
  for s in (1, 2)
  for padding in ("SAME", "VALID", ((1, 2), (0, 3)))
]
# For the programs that take values and gradients of many small
# convolutions at once: compiling them is nearly all of those tests' time,
# and half of it is LLVM optimizing machine code, which changes results
# only by rounding, well within the tolerances here. (The DCGANs below, and
# every training test, compile as users' runs do.)
QUICK_COMPILE = {
  "xla_backend_optimization_level": 0,
  "xla_llvm_disable_expensive_passes": True,
}


def _inputs(k, n=7, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(2, n, n + 2, 3)).astype(np.float32)
  w = rng.normal(size=(k, k + 1 if k < 5 else k, 3, 4)).astype(np.float32)
  return jnp.asarray(x), jnp.asarray(w)


def _pair(s):
  return s if isinstance(s, tuple) else (s, s)


def _lax_transpose(x, w, s, padding):
  """lax's transposed convolution; ``s``: a stride or one per axis."""
  return lax.conv_transpose(
    x, w, _pair(s), padding, dimension_numbers=DIMS, precision=EXACT
  )


def out_shape(fn, x, w, s, padding):
  """The shape of ``fn(x, w, s, padding)``, traced, not computed: an
  operation run on its own is compiled on its own. Also used by
  test_winograd."""
  return jax.eval_shape(lambda x, w: fn(x, w, s, padding), x, w).shape


def _lax_conv(x, w, s, padding):
  """lax's convolution; ``s``: a stride or one per axis."""
  return lax.conv_general_dilated(
    x, w, _pair(s), padding, dimension_numbers=DIMS, precision=EXACT
  )


@pytest.mark.parametrize("k,s,padding", CASES)
def test_conv_transpose_matches_lax(k, s, padding):
  x, w = _inputs(k)
  want = _lax_transpose(x, w, s, padding)
  got = matmul_conv.conv_transpose(x, w, (s, s), padding, precision=EXACT)
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("k,s,padding", CASES)
def test_conv_matches_lax(k, s, padding):
  x, w = _inputs(k, n=9)
  want = _lax_conv(x, w, s, padding)
  got = matmul_conv.conv(x, w, (s, s), padding, precision=EXACT)
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("k,s,padding", CASES)
def test_gradients_match_lax(k, s, padding):
  x, w = _inputs(k, seed=1)
  pairs = [
    (matmul_conv.conv_transpose, _lax_transpose),
    (matmul_conv.conv, _lax_conv),
  ]
  rng = np.random.default_rng(2)
  probes = [
    rng.normal(size=out_shape(theirs, x, w, s, padding)).astype(np.float32)
    for _, theirs in pairs
  ]
  ours = [functools.partial(fn, precision=EXACT) for fn, _ in pairs]
  got = values_and_gradients(ours, probes, x, w, (s, s), padding)
  want = values_and_gradients([t for _, t in pairs], probes, x, w, s, padding)
  for (_, *grads), (_, *expected) in zip(got, want):
    for g, e in zip(grads, expected):
      np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-3)


# Shapes with nothing to compute: no output rows or columns (lax's formula
# gives 0 or fewer), or an input without any. lax returns an empty array
# there (zeros for a transposed convolution of an empty input), with zero
# gradients; the im2col and col2im views need an output and an input pixel.
EMPTY_CONV = [
  ((1, 1), (3, 3), (1, 1), "VALID"),  # a kernel larger than the input
  ((1, 1), (4, 4), (2, 2), "VALID"),
  ((2, 3), (2, 5), (3, 1), "VALID"),  # a row, and no columns
  ((4, 4), (3, 3), (1, 1), ((-1, -1), (0, 0))),  # negative pads: 2 rows left
  ((5, 5), (4, 4), (2, 2), ((-1, -2), (0, 0))),
  ((0, 3), (3, 3), (1, 1), "SAME"),  # an empty input
]
EMPTY_TRANSPOSE = [
  ((1, 1), (3, 3), (1, 1), ((0, 0), (0, 0))),  # 1 + 0 - 3 + 1 rows
  ((2, 2), (3, 3), (2, 2), ((-1, -1), (0, 0))),
  ((4, 4), (3, 3), (1, 1), ((-1, -1), (0, 0))),
  ((3, 3), (3, 3), (2, 2), ((1, 1), (-2, -2))),  # 5 rows, no columns
  ((0, 3), (3, 3), (2, 2), "VALID"),  # an empty input: lax's 2×7 zeros
]


def check_nothing_to_compute(ours, theirs, hw, ks, s, padding, dtype):
  """``ours`` gives ``theirs``'s (lax's) result, its shape and dtype, and
  gradients (zeros), for inputs ``hw`` and a ``ks`` kernel. Also used by
  test_winograd."""
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(2, *hw, 3)), dtype)
  w = jnp.asarray(rng.normal(size=(*ks, 3, 4)), dtype)
  want = theirs(x, w, s, padding)
  got = ours(x, w, s, padding)
  assert (got.shape, got.dtype) == (want.shape, want.dtype)
  np.testing.assert_array_equal(got, want)
  probe = jnp.asarray(rng.normal(size=want.shape), dtype)
  for fn in (ours, theirs):

    def loss(x, w, fn=fn):
      return jnp.sum((fn(x, w, s, padding) * probe).astype(jnp.float32))

    grads = jax.jit(jax.grad(loss, argnums=(0, 1)))(x, w)
    for g, a in zip(grads, (x, w)):
      assert (g.shape, g.dtype) == (a.shape, a.dtype)
      np.testing.assert_array_equal(g, jnp.zeros_like(a))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("hw,ks,s,padding", EMPTY_CONV)
def test_conv_with_nothing_to_compute_is_lax(hw, ks, s, padding, dtype):
  check_nothing_to_compute(
    matmul_conv.conv, _lax_conv, hw, ks, s, padding, dtype
  )


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("hw,ks,s,padding", EMPTY_TRANSPOSE)
def test_conv_transpose_with_nothing_to_compute_is_lax(
  hw, ks, s, padding, dtype
):
  check_nothing_to_compute(
    matmul_conv.conv_transpose, _lax_transpose, hw, ks, s, padding, dtype
  )


def values_and_gradients(fns, probes, x, w, s, padding):
  """``(fn(x, w, s, padding), d/dx, d/dw)`` for each function, the
  gradients of the float32 sum of its value times its probe; one
  compilation for them all, since compiling is most of these tests' time.
  Also used by test_winograd."""

  def run(x, w):
    out = []
    for fn, probe in zip(fns, probes):

      def loss(x, w, fn=fn, probe=probe):
        return jnp.sum(fn(x, w, s, padding).astype(jnp.float32) * probe)

      out.append((fn(x, w, s, padding), *jax.grad(loss, (0, 1))(x, w)))
    return out

  return jax.jit(run, compiler_options=QUICK_COMPILE)(x, w)


# Each kernel and stride once, each padding twice: the geometry is CASES',
# checked in float32 above; what bfloat16 adds is the dtype handling.
BFLOAT16_CASES = [
  (3, 1, "SAME"),
  (3, 2, "VALID"),
  (4, 1, ((1, 2), (0, 3))),
  (4, 2, "SAME"),
  (5, 1, "VALID"),
  (5, 2, ((1, 2), (0, 3))),
]


@pytest.fixture(params=[0, 10**9], ids=["g_first", "patches_first"])
def kernel_grad_way(request, monkeypatch):
  """Each way of a bfloat16 kernel gradient, whichever
  ``MIN_ROWS_PER_OUTPUT`` would pick for the test's shapes."""
  monkeypatch.setattr(matmul_conv, "MIN_ROWS_PER_OUTPUT", request.param)


@pytest.mark.parametrize("k,s,padding", BFLOAT16_CASES)
def test_bfloat16_is_lax_in_float32_rounded_once(
  k, s, padding, kernel_grad_way
):
  """In bfloat16 the products (rearranged into the standard layout, a code
  path of its own) and the overlap-adds accumulate in float32: values and
  gradients are lax's float32 results on the same bfloat16 inputs, to
  within one bfloat16 rounding of each (2⁻⁸ relative), where sums rounded
  to bfloat16 at every step would not be. Both ways of computing a
  convolution's kernel gradient (which ``MIN_ROWS_PER_OUTPUT`` picks)."""
  x, w = (a.astype(jnp.bfloat16) for a in _inputs(k, n=9, seed=3))
  pairs = [
    (matmul_conv.conv_transpose, _lax_transpose),
    (matmul_conv.conv, _lax_conv),
  ]
  for g, e in bfloat16_against_float32(pairs, x, w, (s, s), padding):
    np.testing.assert_allclose(g, e, rtol=2**-8, atol=1e-5 * abs(e).max())


def bfloat16_against_float32(pairs, x, w, strides, padding):
  """Each value and gradient of each (ours, lax's) pair in ``pairs``: ours
  on the bfloat16 ``x`` and ``w`` (checked to come out in bfloat16), lax's
  in float32 on the same numbers, with the same probes (bfloat16 numbers
  too); as (ours, lax's) pairs of float32 arrays. Also used by
  test_winograd."""

  def in_float32(theirs):
    def fn(x, w, s, padding):
      return theirs(x.astype(jnp.float32), w.astype(jnp.float32), s, padding)

    return fn

  rng = np.random.default_rng(4)
  probes = [
    jnp.asarray(
      rng.normal(size=out_shape(theirs, x, w, strides, padding)), jnp.bfloat16
    ).astype(jnp.float32)
    for _, theirs in pairs
  ]
  got = values_and_gradients(
    [o for o, _ in pairs], probes, x, w, strides, padding
  )
  want = values_and_gradients(
    [in_float32(t) for _, t in pairs], probes, x, w, strides, padding
  )
  compared = []
  for ours, lax_ in zip(got, want):
    for g, e in zip(ours, lax_):
      assert g.dtype == jnp.bfloat16
      compared.append((np.asarray(g, np.float32), np.asarray(e, np.float32)))
  return compared


def _dot_operand_types(compiled_text):
  """The element types of every dot's operands in compiled HLO text."""
  types = {}
  for line in compiled_text.splitlines():
    line = line.strip().removeprefix("ROOT ")
    if line.startswith("%") and " = " in line:
      name, rest = line.split(" = ", 1)
      types[name] = rest.split("[", 1)[0]
  return [
    tuple(
      types[o.strip()]
      for o in line.split(" dot(", 1)[1].split(")")[0].split(",")
    )
    for line in compiled_text.splitlines()
    if " dot(" in line
  ]


def skip_without_bfloat16_products():
  """Skips the test where the backend multiplies bfloat16 matrices in
  float32 even in the standard layout (not XLA:CPU with bfloat16 dots).
  Also used by test_winograd."""
  a, b = jnp.ones((64, 32), jnp.bfloat16), jnp.ones((32, 16), jnp.bfloat16)
  dot = jax.jit(lambda a, b: matmul_conv._dot(a, b, None))
  plain = dot.lower(a, b).compile()
  if set(_dot_operand_types(plain.as_text())) != {("bf16", "bf16")}:
    pytest.skip(f"{jax.default_backend()} has no bfloat16 products")


def test_bfloat16_products_stay_in_bfloat16_on_cpu(kernel_grad_way):
  """XLA:CPU multiplies bfloat16 matrices natively only in the standard
  layout; for a transposed operand it converts both to float32 first,
  slower than float32 throughout (and for a contraction as short as 3,
  whatever the layout). Every product in the forward and backward passes
  of both convolutions must reach it in bfloat16: three each (forward,
  kernel gradient, input gradient), either way of the kernel gradient."""
  skip_without_bfloat16_products()
  rng = np.random.default_rng(5)
  x = jnp.asarray(rng.normal(size=(2, 8, 8, 16)), jnp.bfloat16)
  w = jnp.asarray(rng.normal(size=(4, 4, 16, 16)), jnp.bfloat16)
  for fn in (matmul_conv.conv, matmul_conv.conv_transpose):

    def loss(x, w, fn=fn):
      return jnp.sum(fn(x, w, (2, 2), "SAME").astype(jnp.float32) ** 2)

    step = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    found = _dot_operand_types(step.lower(x, w).compile().as_text())
    assert len(found) == 3
    assert set(found) == {("bf16", "bf16")}, found


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_16_bit_floats_are_moved_as_bits(dtype):
  """im2col's gathers move a 16-bit input's bits as integers (XLA:CPU
  moves each element through float32, which keeps no NaN payload): every
  bit as it was (signed zeros, infinities, NaN payloads), and the gather's
  own derivatives."""
  bits = np.array([0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC1, 0x3F80, 0x0001])
  bits = jnp.asarray(np.resize(bits, (2, 4, 4, 3)), jnp.uint16)
  x = lax.bitcast_convert_type(bits, dtype)

  def gather(x):
    pads = ((0, 0), (1, 1), (1, 1), (0, 0))
    return [x[:, 1:, ::2].transpose(3, 0, 1, 2), jnp.pad(x, pads)]

  moved = jax.jit(lambda x: matmul_conv._moved(gather, x))
  assert "ui16" in moved.lower(x).as_text()
  for got, want in zip(moved(x), gather(bits)):
    assert got.dtype == dtype
    np.testing.assert_array_equal(
      lax.bitcast_convert_type(got, jnp.uint16), want
    )
  y = jnp.asarray(np.random.default_rng(0).normal(size=x.shape), dtype)

  def total(fn, y):
    return sum(jnp.sum(jnp.sin(p.astype(jnp.float32))) for p in fn(y))

  got = jax.grad(lambda y: total(lambda y: matmul_conv._moved(gather, y), y))
  want = jax.grad(lambda y: total(gather, y))
  np.testing.assert_array_equal(got(y), want(y))


def test_bfloat16_bias_gradient_is_one_float32_sum():
  """A 16-bit bias's gradient is the float32 sum of the output gradient's
  rows (4,096 of about 0.5 here), rounded once: the float32 layers' value
  within one rounding. The output's own gradient is unchanged."""
  rng = np.random.default_rng(3)
  y = rng.normal(size=(16, 16, 16, 8)).astype(np.float32)
  w = rng.uniform(0.0, 1.0, size=y.shape).astype(np.float32)
  bias = rng.normal(size=(8,)).astype(np.float32)

  def loss(y, bias, dtype):
    out = matmul_conv.add_bias(y.astype(dtype), bias.astype(dtype))
    return jnp.sum(out.astype(jnp.float32) * w)

  grads = jax.jit(jax.grad(loss, argnums=(0, 1)), static_argnums=2)
  got_y, got_bias = grads(y, bias, jnp.bfloat16)
  want = w.reshape(-1, 8).sum(0)
  np.testing.assert_allclose(got_bias, want, rtol=2**-8)
  np.testing.assert_array_equal(got_y, jnp.asarray(w, jnp.bfloat16))
  f32_y, f32_bias = grads(y, bias, jnp.float32)
  np.testing.assert_allclose(f32_bias, want, rtol=1e-5)
  np.testing.assert_array_equal(f32_y, w)


def test_bias_gradient_is_a_product_in_16_bits_only():
  """In bfloat16 the bias's gradient is a product with bfloat16 operands
  (XLA:CPU sums bfloat16 through a float32 copy); in float32 the layer
  is JAX's own ``y + bias``, the same program as before."""
  y = jnp.ones((4, 8, 8, 16))
  bias = jnp.ones((16,))

  def grad_program(dtype, add=matmul_conv.add_bias):
    def loss(y, bias):
      out = add(y.astype(dtype), bias.astype(dtype))
      return jnp.sum(out.astype(jnp.float32) ** 2)

    return jax.jit(jax.grad(loss, argnums=1)).lower(y, bias).as_text()

  narrow = grad_program(jnp.bfloat16)
  assert "dot_general" in narrow
  assert "bf16" in narrow.split("dot_general", 1)[1].split("\n", 1)[0]
  assert "dot_general" not in grad_program(jnp.bfloat16, jnp.add)
  assert grad_program(jnp.float32) == grad_program(jnp.float32, jnp.add)


def test_after_keeps_every_bit_and_its_dependence_survives_xla():
  """The transposed convolution's backward pass orders its kernel gradient
  first through ``_after``: the result must be ``x`` exactly, and XLA must
  not have optimized the dependence away (a non-finite ``y`` shows)."""
  after = jax.jit(matmul_conv._after)
  x = np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32)
  x[0, :3] = [-0.0, np.inf, -np.inf]
  y = np.random.default_rng(1).normal(size=(4, 4)).astype(np.float32) * 1e30
  got = np.asarray(after(x, y))
  np.testing.assert_array_equal(got.view(np.uint32), x.view(np.uint32))
  y[2, 2] = np.inf
  assert np.isnan(np.asarray(after(x, y))).all()


def test_after_depends_on_every_array_it_is_given():
  after = jax.jit(matmul_conv._after)
  x = np.ones((16, 8), np.float32)
  ys = [np.ones((3, 5), np.float32), np.ones((4,), np.float32)]
  np.testing.assert_array_equal(after(x, *ys), x)
  for i in range(2):
    bad = [y.copy() for y in ys]
    bad[i][...] = np.inf
    assert np.isnan(np.asarray(after(x, *bad))).all()


def test_after_depends_on_a_padded_array_through_its_data():
  """A transposed convolution's output gradient reaches ``_after`` padded
  back to the uncropped output. XLA folds an element of the padding to a
  constant, and the dependence with it: ``_after`` must read the data."""
  after = jax.jit(lambda x, y: matmul_conv._after(x, jnp.pad(y, 1)))
  x = np.ones((16, 8), np.float32)
  y = np.ones((4, 6, 6, 4), np.float32)
  np.testing.assert_array_equal(after(x, y), x)
  y[...] = np.inf
  assert np.isnan(np.asarray(after(x, y))).all()


@pytest.mark.parametrize("strides", [(2, 2), 2])
@pytest.mark.parametrize(
  "ours,flax_module",
  [(matmul_conv.Conv, nn.Conv), (matmul_conv.ConvTranspose, nn.ConvTranspose)],
)
def test_modules_are_drop_in_replacements_for_flax(ours, flax_module, strides):
  x = jnp.asarray(
    np.random.default_rng(0).normal(size=(2, 8, 8, 6)), jnp.float32
  )
  highest = jax.lax.Precision.HIGHEST
  a = flax_module(5, (4, 4), strides=strides, padding="SAME", precision=highest)
  b = ours(5, (4, 4), strides=strides, padding="SAME", precision=highest)
  params = a.init(jax.random.key(0), x)
  assert jax.tree.map(jnp.shape, b.init(jax.random.key(0), x)) == jax.tree.map(
    jnp.shape, params
  )
  # Same initialisation too: a checkpoint of one loads into the other.
  assert all(
    jax.tree.leaves(
      jax.tree.map(jnp.array_equal, b.init(jax.random.key(0), x), params)
    )
  )
  np.testing.assert_allclose(
    b.apply(params, x), a.apply(params, x), rtol=1e-5, atol=1e-5
  )
  assert "HIGHEST" in str(jax.make_jaxpr(b.apply)(params, x))


@pytest.mark.parametrize(
  "impl,kw",
  [
    ("matmul", {"resolution": 8, "width": 8, "extra_layers": 1}),
    # Wide enough that every layer of winograd's rule takes its path.
    ("winograd", {"resolution": 32, "width": 64}),
  ],
)
def test_dcgan_is_the_same_function_as_with_xla_convolutions(impl, kw):
  z = jnp.asarray(np.random.default_rng(0).normal(size=(4, 16)), jnp.float32)

  def init(module, x):
    return jax.jit(lambda x: module.init(jax.random.key(0), x, train=False))(x)

  def apply(module, variables, x):
    return jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x)

  g_xla = Generator(channels=3, conv_impl="xla", **kw)
  variables = init(g_xla, z)
  images = apply(g_xla, variables, z)
  g_ours = Generator(channels=3, conv_impl=impl, **kw)
  np.testing.assert_allclose(apply(g_ours, variables, z), images, atol=1e-5)
  d_xla = Discriminator(conv_impl="xla", **kw)
  variables = init(d_xla, images)
  d_ours = Discriminator(conv_impl=impl, **kw)
  np.testing.assert_allclose(
    apply(d_ours, variables, images),
    apply(d_xla, variables, images),
    rtol=1e-4,
    atol=1e-5,
  )
