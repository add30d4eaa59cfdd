"""Regularizers against hand-computed and finite-difference values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import regularizers as regs


def _linear(w):
  """D(x) = <w, x> per sample: its input gradient is w everywhere."""
  return lambda x: jnp.sum(x * w, axis=(1, 2, 3))


def _tanh_d(seed=0, shape=(4, 4, 1)):
  w = jax.random.normal(jax.random.key(seed), (int(np.prod(shape)), 3))
  return lambda x: jnp.sum(jnp.tanh(x.reshape(x.shape[0], -1) @ w), axis=1)


def _batch(seed, n=5, shape=(4, 4, 1)):
  return jax.random.normal(jax.random.key(seed), (n, *shape))


def _fd_grad_norms_sq(d, x, eps=1e-2):
  """‖∇D(x)‖² per sample by central differences, in float64 with NumPy."""
  x = np.asarray(x, np.float64)
  flat = x.reshape(x.shape[0], -1)
  out = np.zeros(x.shape[0])
  for j in range(flat.shape[1]):
    step = np.zeros_like(flat)
    step[:, j] = eps
    up = np.asarray(d(jnp.asarray((flat + step).reshape(x.shape), jnp.float32)))
    down = np.asarray(
      d(jnp.asarray((flat - step).reshape(x.shape), jnp.float32))
    )
    out += ((up - down) / (2 * eps)) ** 2
  return out


@pytest.mark.parametrize(
  "norm, two_sided, one_sided", [(2.0, 1.0, 1.0), (0.5, 0.25, 0.0)]
)
def test_gradient_penalty_of_a_linear_critic(norm, two_sided, one_sided):
  w = jnp.full((4, 4, 1), norm / 4.0)  # ‖w‖ = norm
  real, fake, key = _batch(0), _batch(1), jax.random.key(2)
  d = _linear(w)
  got = regs.gradient_penalty(d, real, fake, key)
  np.testing.assert_allclose(got, two_sided, rtol=1e-5)
  got = regs.gradient_penalty(d, real, fake, key, one_sided=True)
  np.testing.assert_allclose(got, one_sided, atol=1e-6)
  # DRAGAN penalises the same norm around the data.
  np.testing.assert_allclose(
    regs.dragan_penalty(d, real, fake, key), two_sided, rtol=1e-5
  )


def test_gradient_penalty_against_finite_differences():
  d, real, fake, key = _tanh_d(), _batch(0), _batch(1), jax.random.key(3)
  # The interpolates, drawn as the penalty draws them: one α per sample.
  alpha = jax.random.uniform(key, (5, 1, 1, 1))
  points = alpha * real + (1 - alpha) * fake
  norms = np.sqrt(_fd_grad_norms_sq(d, points))
  expected = np.mean((norms - 1.0) ** 2)
  np.testing.assert_allclose(
    regs.gradient_penalty(d, real, fake, key), expected, rtol=1e-3
  )


def test_r1_and_r2_against_finite_differences():
  d, real, fake = _tanh_d(1), _batch(4), _batch(5)
  key = jax.random.key(0)
  np.testing.assert_allclose(
    regs.r1_penalty(d, real, fake, key),
    0.5 * np.mean(_fd_grad_norms_sq(d, real)),
    rtol=1e-3,
  )
  np.testing.assert_allclose(
    regs.r2_penalty(d, real, fake, key),
    0.5 * np.mean(_fd_grad_norms_sq(d, fake)),
    rtol=1e-3,
  )


def test_r1_of_a_quadratic_critic_by_hand():
  # D(x) = c/2·‖x‖²: ∇D = c·x, so R1 = ½·c²·E‖x‖².
  c, real = 3.0, _batch(6)
  d = lambda x: 0.5 * c * jnp.sum(x**2, axis=(1, 2, 3))
  expected = 0.5 * c**2 * np.mean(np.sum(np.asarray(real) ** 2, (1, 2, 3)))
  np.testing.assert_allclose(
    regs.r1_penalty(d, real, None, None), expected, rtol=1e-5
  )


def test_lecam_by_hand():
  inputs = regs.Inputs(
    d=None,
    real=None,
    fake=None,
    key=None,
    d_real=jnp.array([1.0, 3.0]),
    d_fake=jnp.array([-1.0, -1.0]),
  )
  penalty, anchors = regs.lecam(inputs, regs.lecam_init())
  # Anchors: 0.99·0 + 0.01·mean → α_R = 0.02, α_F = -0.01.
  np.testing.assert_allclose(anchors["real"], 0.02, rtol=1e-6)
  np.testing.assert_allclose(anchors["fake"], -0.01, rtol=1e-6)
  expected = (1.01**2 + 3.01**2) / 2 + 1.02**2
  np.testing.assert_allclose(penalty, expected, rtol=1e-6)


def test_balanced_consistency_by_hand():
  # Constant images: a flip changes nothing; a shift by (dy, dx) zeroes
  # (dy·W + dx·H - |dy·dx|) pixels, which D = sum of pixels sees.
  n, h = 6, 8
  real = jnp.full((n, h, h, 1), 2.0)
  fake = jnp.full((n, h, h, 1), -1.0)
  d = lambda x: jnp.sum(x, axis=(1, 2, 3))
  key = jax.random.key(7)
  inputs = regs.Inputs(d, real, fake, key, d(real), d(fake))
  penalty, _ = regs.balanced_consistency(inputs, {})
  real_key, fake_key = jax.random.split(key)
  expected = 0.0
  for x, k in ((real, real_key), (fake, fake_key)):
    seen = regs.consistency_augment(k, x)
    kept = np.sum(np.asarray(seen) != 0, axis=(1, 2, 3))
    assert np.all(kept >= (h - 1) ** 2)  # shifts of at most 1 = 8/8 pixel
    expected += np.mean((float(x[0, 0, 0, 0]) * (h * h - kept)) ** 2)
  np.testing.assert_allclose(penalty, expected, rtol=1e-6)
  assert penalty > 0


def test_weight_clipping():
  params = {"a": jnp.array([-1.0, -0.005, 0.2]), "b": {"c": jnp.array(0.5)}}
  clipped = regs.clip_weights(params, 0.01)
  np.testing.assert_allclose(clipped["a"], [-0.01, -0.005, 0.01])
  np.testing.assert_allclose(clipped["b"]["c"], 0.01)


def test_parse_names_weights_and_errors():
  assert regs.parse("r1=10, lecam=0.3") == {"r1": 10.0, "lecam": 0.3}
  assert regs.parse("") == {}
  with pytest.raises(ValueError, match="no weight"):
    regs.parse("r1")
  with pytest.raises(ValueError, match="not registered"):
    regs.parse("r3=1")
  with pytest.raises(ValueError, match="not a number"):
    regs.parse("gp=ten")
  for bad in ("r1=-10", "r1=nan", "gp=inf"):
    with pytest.raises(ValueError, match="finite number >= 0"):
      regs.parse(bad)
  with pytest.raises(ValueError, match="given twice"):
    regs.parse("r1=1,r1=10")
  assert regs.parse("r1=0") == {"r1": 0.0}
