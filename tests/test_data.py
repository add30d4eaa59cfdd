"""Data sources: the real digits and the 2-D mixtures, deterministic by position
(the TFDS datasets: test_tfds_data.py; the pipeline: test_pipeline.py)."""

import numpy as np
import pytest

from gan_jax import data
from gan_jax.data import digits


def test_digits_are_the_real_scikit_learn_digits():
  images, labels = digits.load()
  assert images.shape == (1797, 8, 8, 1) and images.dtype == np.float32
  assert images.min() == -1.0 and images.max() == 1.0
  assert np.bincount(labels).tolist() == [
    178,
    182,
    177,
    183,
    181,
    182,
    181,
    179,
    174,
    180,
  ]


def test_mixture_batches_depend_only_on_seed_and_position():
  a, b = data.build("mog_ring", 0), data.build("mog_ring", 0)
  assert np.array_equal(a.batch(40, 32), b.batch(40, 32))
  a.batch(0, 32)  # Reading elsewhere first does not change what it serves.
  assert np.array_equal(a.batch(40, 32), b.batch(40, 32))
  assert not np.array_equal(
    a.batch(40, 32), data.build("mog_ring", 1).batch(40, 32)
  )
  served = a.batches(32, data.Shard())[40]
  assert np.array_equal(served, a.batch(40, 32))


def _nearest(points, centers):
  dist = np.linalg.norm(points[:, None] - centers[None], axis=2)
  return dist.argmin(1), dist.min(1)


def test_ring_has_8_modes_on_the_unit_circle():
  ring = data.build("mog_ring", 0)
  assert ring.centers.shape == (8, 2) and ring.sigma == 0.01
  np.testing.assert_allclose(
    np.linalg.norm(ring.centers, axis=1), 1.0, rtol=1e-6
  )
  np.testing.assert_allclose(ring.centers[2], [0.0, 1.0], atol=1e-6)
  x = ring.batch(0, 8000)
  modes, _ = _nearest(x, ring.centers)
  assert np.std(x - ring.centers[modes]) == pytest.approx(0.01, rel=0.05)
  assert np.bincount(modes, minlength=8).min() > 900  # 1000 expected each.


def test_grid_has_25_modes():
  grid = data.build("mog_grid", 0)
  assert grid.sigma == 0.05
  assert sorted(map(tuple, grid.centers.tolist())) == sorted(
    (x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)
  )
  x = grid.batch(1, 10000)
  modes, _ = _nearest(x, grid.centers)
  assert np.std(x - grid.centers[modes]) == pytest.approx(0.05, rel=0.05)
  assert np.bincount(modes, minlength=25).min() > 300  # 400 expected each.
  assert not np.array_equal(grid.batch(1, 10), grid.batch(2, 10))
