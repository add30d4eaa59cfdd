"""DiffAugment: each transformation does what it says, per sample, and
gradients pass through it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import augment


def _images(n=16, h=8, w=8, c=3, seed=0):
  return jax.random.uniform(jax.random.key(seed), (n, h, w, c), minval=-1)


def _shifted(x, dy, dx):
  h, w = x.shape[:2]
  out = np.zeros_like(x)
  out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
    max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
  ]
  return out


def test_translation_is_a_zero_filled_shift_of_at_most_an_eighth():
  x = np.asarray(_images())
  y = np.asarray(augment.translation(jax.random.key(1), jnp.asarray(x)))
  seen = set()
  for xi, yi in zip(x, y, strict=True):
    matches = [
      (dy, dx)
      for dy in (-1, 0, 1)
      for dx in (-1, 0, 1)
      if np.array_equal(_shifted(xi, dy, dx), yi)
    ]
    assert len(matches) == 1, "each sample is exactly one allowed shift"
    seen.add(matches[0])
  assert len(seen) > 3  # shifts are drawn per sample


def test_cutout_zeroes_one_square_of_half_the_side():
  x = np.asarray(_images(seed=2))
  y = np.asarray(augment.cutout(jax.random.key(3), jnp.asarray(x)))
  for xi, yi in zip(x, y, strict=True):
    changed = np.any(xi != yi, axis=2)
    assert np.all(yi[changed] == 0)
    rows, cols = np.nonzero(changed)
    assert rows.size, "some pixels are cut in every sample here"
    # One axis-aligned rectangle, at most 4×4, filled completely.
    r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
    assert r1 - r0 < 4 and c1 - c0 < 4
    assert changed[r0 : r1 + 1, c0 : c1 + 1].all()
    np.testing.assert_array_equal(yi[~changed], xi[~changed])


def test_brightness_adds_one_value_per_sample():
  x = _images(seed=4)
  delta = np.asarray(augment.brightness(jax.random.key(5), x) - x)
  per_sample = delta.reshape(len(delta), -1)
  np.testing.assert_allclose(
    per_sample, np.broadcast_to(per_sample[:, :1], per_sample.shape), atol=1e-6
  )
  assert np.all(np.abs(per_sample[:, 0]) <= 0.5)
  assert np.unique(per_sample[:, 0].round(5)).size == len(delta)


def test_saturation_and_contrast_keep_their_means():
  x = _images(seed=6)
  sat = augment.saturation(jax.random.key(7), x)
  np.testing.assert_allclose(sat.mean(axis=3), x.mean(axis=3), atol=1e-5)
  con = augment.contrast(jax.random.key(8), x)
  np.testing.assert_allclose(
    con.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)), atol=1e-5
  )
  assert not np.allclose(sat, x) and not np.allclose(con, x)


def test_policy_composes_and_passes_gradients():
  fn = augment.policy("color,translation,cutout")
  x = _images(seed=9)
  grads = jax.grad(lambda x: jnp.sum(fn(jax.random.key(0), x) ** 2))(x)
  assert np.all(np.isfinite(grads)) and np.any(grads != 0)
  # Deterministic in the key, different across keys.
  np.testing.assert_array_equal(
    fn(jax.random.key(1), x), fn(jax.random.key(1), x)
  )
  assert not np.array_equal(fn(jax.random.key(1), x), fn(jax.random.key(2), x))
  assert augment.policy("") is None
  with pytest.raises(ValueError, match="not registered"):
    augment.policy("color,rotate")


def test_probability_chooses_which_samples_are_augmented():
  fn = augment.policy("brightness")
  x = _images(n=400, seed=10)
  key = jax.random.key(11)
  np.testing.assert_array_equal(fn(key, x, 0.0), x)
  np.testing.assert_allclose(fn(key, x, 1.0), fn(key, x), atol=0)
  half = np.asarray(fn(key, x, jnp.float32(0.5)))
  changed = np.any(half != np.asarray(x), axis=(1, 2, 3))
  assert 150 < changed.sum() < 250
  # The augmented ones are augmented exactly as with p = 1.
  np.testing.assert_array_equal(half[changed], np.asarray(fn(key, x))[changed])


def test_ada_moves_p_toward_the_target_and_stays_in_0_1():
  p = jnp.float32(0.5)
  assert augment.ada_update(p, jnp.float32(0.9), 0.6, 0.01) == pytest.approx(
    0.51
  )
  assert augment.ada_update(p, jnp.float32(0.1), 0.6, 0.01) == pytest.approx(
    0.49
  )
  assert augment.ada_update(jnp.float32(0.0), -1.0, 0.6, 0.5) == 0.0
  assert augment.ada_update(jnp.float32(0.9), 1.0, 0.6, 0.5) == 1.0


def test_data_in_0_1_is_augmented_as_the_same_data_in_minus_1_1():
  """The augmentations are defined on [-1, 1]; data in [0, 1] is mapped
  there and back, so a translation fills with mid-grey (0.5), not black."""
  spec = "color,translation,cutout"
  key = jax.random.key(3)
  x = jax.random.uniform(jax.random.key(4), (6, 8, 8, 3), minval=-1, maxval=1)
  signed = augment.policy(spec)(key, x, 0.5)
  unit = augment.policy(spec, (0.0, 1.0))(key, (x + 1) / 2, 0.5)
  np.testing.assert_allclose(unit, (signed + 1) / 2, atol=1e-6)
  grey = jnp.full((4, 8, 8, 1), 0.5)
  shifted = augment.policy("translation", (0.0, 1.0))(key, grey)
  np.testing.assert_allclose(shifted, grey)
  # On [-1, 1] the policy is the composition itself, unchanged.
  assert augment.policy(spec, (-1, 1)).__name__ == "augment"
