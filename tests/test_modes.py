"""Inception-free metrics: the digits classifier and the mode-collapse counts."""

import numpy as np
import pytest
from flax import traverse_util

from gan_jax import data
from gan_jax.data import digits, mixtures
from gan_jax.metrics import digits_classifier, modes


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> digits_classifier.DigitsClassifier:
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("GAN_JAX_CACHE", str(tmp_path_factory.mktemp("cache")))
    return digits_classifier.load_classifier()


def _flat(params) -> dict[str, np.ndarray]:
  return {
    k: np.asarray(v)
    for k, v in traverse_util.flatten_dict(params, sep="/").items()
  }


def _assert_same_params(a, b):
  a, b = _flat(a), _flat(b)
  assert a.keys() == b.keys()
  for k in a:
    assert np.array_equal(a[k], b[k]), k


def test_classifier_is_accurate_on_held_out_digits(classifier):
  accuracy = digits_classifier.held_out_accuracy(classifier)
  print(f"held-out accuracy {accuracy:.4f}")
  assert accuracy >= 0.97


def test_classifier_functions_have_the_documented_shapes(classifier):
  images = data.build("digits", 0).reference(5)
  assert classifier.features(images).shape == (5, 128)
  assert classifier.logits(images).shape == (5, 10)
  labels = classifier.predict(images)
  assert labels.shape == (5,) and np.issubdtype(labels.dtype, np.integer)


def test_training_is_deterministic(classifier, tmp_path, monkeypatch):
  monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path))
  _assert_same_params(
    digits_classifier.load_classifier().params, classifier.params
  )


def test_the_cache_round_trips_without_retraining(tmp_path, monkeypatch):
  monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path))
  params = {
    "Dense_0": {
      "kernel": np.arange(6.0, dtype=np.float32).reshape(2, 3),
      "bias": np.zeros(3, np.float32),
    }
  }
  monkeypatch.setattr(digits_classifier, "train", lambda: params)
  first = digits_classifier.load_classifier()
  assert digits_classifier.cache_path().parent == tmp_path
  assert [p.name for p in tmp_path.iterdir()] == [
    digits_classifier.cache_path().name
  ]  # No temporary file left behind.

  def fail():
    raise AssertionError("retrained although the cache holds the parameters")

  monkeypatch.setattr(digits_classifier, "train", fail)
  _assert_same_params(digits_classifier.load_classifier().params, first.params)
  _assert_same_params(first.params, params)


RING = mixtures.ring(0)


def test_samples_at_one_center_reach_one_mode():
  samples = np.repeat(RING.centers[3:4], 100, axis=0)
  result = modes.mixture_modes(samples, RING.centers, RING.sigma)
  assert result["modes"] == 1 and result["high_quality"] == 1.0
  assert result["reverse_kl"] == pytest.approx(np.log(8))


def test_samples_spread_evenly_reach_every_mode():
  grid = mixtures.grid(0)
  samples = np.tile(grid.centers, (4, 1)) + 0.5 * grid.sigma
  result = modes.mixture_modes(samples, grid.centers, grid.sigma)
  assert result == {"modes": 25, "high_quality": 1.0, "reverse_kl": 0.0}


def test_real_mixture_samples_are_almost_all_of_high_quality():
  result = modes.mixture_modes(RING.reference(2500), RING.centers, RING.sigma)
  assert result["modes"] == 8 and result["high_quality"] > 0.98
  assert result["reverse_kl"] < 0.01


def test_only_samples_within_3_sigma_count():
  far = RING.centers * 1.5  # 0.5 from the ring: 50σ.
  near = RING.centers[:2] + [2.9 * RING.sigma, 0.0]
  result = modes.mixture_modes(far, RING.centers, RING.sigma)
  assert result["modes"] == 0 and result["high_quality"] == 0.0
  assert np.isnan(result["reverse_kl"])
  result = modes.mixture_modes(
    np.concatenate([far, near]), RING.centers, RING.sigma
  )
  assert result["modes"] == 2 and result["high_quality"] == 0.2
  assert result["reverse_kl"] == pytest.approx(np.log(4))


def test_kl_from_uniform_ignores_empty_bins():
  assert modes.kl_from_uniform([1, 1, 0, 0]) == pytest.approx(np.log(2))
  assert modes.kl_from_uniform([3, 3, 3]) == 0.0


def test_stacked_digit_batches_are_pure_functions_of_seed_and_position():
  a, b = data.build("stacked_digits", 0), data.build("stacked_digits", 0)
  batch = a.batch(7, 16)
  assert batch.shape == (16, 8, 8, 3) and batch.dtype == np.float32
  assert batch.min() >= -1.0 and batch.max() <= 1.0
  a.batch(0, 16)
  assert np.array_equal(a.batch(7, 16), b.batch(7, 16))
  assert np.array_equal(a.batch(7, 16), batch)
  assert not np.array_equal(a.batch(8, 16), batch)
  assert not np.array_equal(data.build("stacked_digits", 1).batch(7, 16), batch)
  assert np.array_equal(a.reference(50), b.reference(50))
  assert (a.kind, a.example_shape) == ("image", (8, 8, 3))


def test_stacked_channels_are_the_drawn_real_digits():
  source = data.build("stacked_digits", 0)
  images, _ = digits.load()
  indices = source.draw(np.random.default_rng([0, 7]), 16)
  batch = source.batch(7, 16)
  for c in range(3):
    assert np.array_equal(batch[..., c], images[indices[:, c], ..., 0])


def test_real_stacked_digits_reach_about_1000_modes(classifier):
  samples = data.build("stacked_digits", 0).reference(26000)
  result = modes.stacked_digit_modes(samples, classifier)
  print(f"real stacked digits: {result}")
  assert result["modes"] >= 998
  assert 0.015 < result["reverse_kl"] < 0.03  # (K − 1) / 2N ≈ 0.019


def test_one_repeated_digit_triple_is_one_mode(classifier):
  samples = np.repeat(data.build("stacked_digits", 0).reference(1), 500, 0)
  result = modes.stacked_digit_modes(samples, classifier)
  assert result["modes"] == 1
  assert result["reverse_kl"] == pytest.approx(np.log(1000))


def test_stacked_classes_read_channel_0_as_hundreds(classifier):
  images, labels = digits.load()
  pick = [np.flatnonzero(labels == d)[0] for d in (1, 2, 3)]
  sample = np.moveaxis(images[pick, ..., 0], 0, -1)[None]
  assert modes.stacked_digit_classes(sample, classifier).tolist() == [123]


def test_digit_modes_count_the_classes_generated(classifier):
  real, _ = digits.load()
  result = modes.digit_modes(real, classifier)
  assert result["modes"] == 10
  assert result["reverse_kl"] < 0.01  # the 1,797 digits are near balanced
  ones = np.repeat(real[:1], 50, axis=0)  # one digit, fifty times
  result = modes.digit_modes(ones, classifier)
  assert result["modes"] == 1
  np.testing.assert_allclose(result["reverse_kl"], np.log(10), rtol=1e-6)
