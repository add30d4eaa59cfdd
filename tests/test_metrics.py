"""The evaluation metrics against references and hand-computed values."""

import itertools

import numpy as np
import pytest
import scipy.linalg
import scipy.special

from gan_jax.metrics import frechet, inception_score, kid, prdc


def random_spd(rng: np.random.Generator, dim: int) -> np.ndarray:
  a = rng.standard_normal((dim, 2 * dim))
  return a @ a.T / (2 * dim)


def sqrtm_frechet(mu1, sigma1, mu2, sigma2) -> float:
  """The usual FID formula with scipy's general matrix square root."""
  covmean = scipy.linalg.sqrtm(sigma1 @ sigma2).real
  diff = mu1 - mu2
  return diff @ diff + np.trace(sigma1 + sigma2 - 2 * covmean)


# Fréchet distance.


def test_frechet_matches_sqrtm_reference():
  rng = np.random.default_rng(0)
  mu1, mu2 = rng.standard_normal(64), rng.standard_normal(64)
  sigma1, sigma2 = random_spd(rng, 64), random_spd(rng, 64)
  np.testing.assert_allclose(
    frechet.frechet_distance(mu1, sigma1, mu2, sigma2),
    sqrtm_frechet(mu1, sigma1, mu2, sigma2),
    rtol=1e-6,
  )


def test_frechet_tf_gan_value():
  """The test case and value of TF-GAN's frechet_classifier_distance."""
  np.random.seed(0)
  a = np.float32(np.random.randn(512, 256))
  b = np.float32(np.random.randn(512, 256))
  fid = frechet.frechet_distance(
    a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
  )
  np.testing.assert_allclose(fid, 65.74272368, rtol=1e-4)


def test_frechet_of_shifted_means_is_squared_distance():
  dim = 2048
  eye = np.eye(dim)
  fid = frechet.frechet_distance(np.zeros(dim), eye, np.ones(dim), eye)
  assert abs(fid - dim) < 1e-6


def test_frechet_of_singular_covariance_with_itself_is_zero():
  """Fewer samples than dimensions: a rank-deficient Σ, still d(Σ, Σ) ≈ 0.

  Rounding of the zero eigenvalues, ε, enters the trace as √ε: the result
  is about -5e-6 here, against Tr Σ ≈ 64 (scipy's sqrtm gives -3e-6).
  """
  x = np.random.default_rng(1).standard_normal((10, 64))
  mu, sigma = x.mean(0), np.cov(x, rowvar=False)
  fid = frechet.frechet_distance(mu, sigma, mu, sigma)
  assert abs(fid) < 1e-6 * np.trace(sigma)


@pytest.mark.parametrize(
  "shapes",
  [
    ((3,), (3, 3), (4,), (3, 3)),
    ((3,), (3, 3), (3,), (4, 4)),
    ((3,), (3, 4), (3,), (3, 3)),
    ((3, 1), (3, 3), (3, 1), (3, 3)),
  ],
)
def test_frechet_rejects_mismatched_shapes(shapes):
  with pytest.raises(ValueError, match="shape"):
    frechet.frechet_distance(*(np.zeros(s) for s in shapes))


# Streaming feature statistics.


def features(n: int = 200, dim: int = 16, seed: int = 0) -> np.ndarray:
  rng = np.random.default_rng(seed)
  return 5.0 + rng.standard_normal((n, dim)) @ rng.standard_normal((dim, dim))


def test_feature_stats_streamed_over_uneven_batches_match_numpy():
  x = features()
  stats = frechet.FeatureStats.empty(x.shape[1])
  for start, stop in itertools.pairwise([0, 1, 8, 8, 58, 71, 199, 200]):
    stats = stats.update(x[start:stop])
  assert stats.count == len(x)
  np.testing.assert_allclose(stats.mean, x.mean(0), rtol=0, atol=1e-10)
  np.testing.assert_allclose(
    stats.covariance, np.cov(x, rowvar=False), rtol=0, atol=1e-10
  )


def test_feature_stats_merge_is_the_union():
  x = features()
  left = frechet.FeatureStats.empty(16).update(x[:77])
  right = frechet.FeatureStats.empty(16).update(x[77:])
  both = right.merge(left)
  np.testing.assert_allclose(both.mean, x.mean(0), rtol=0, atol=1e-10)
  np.testing.assert_allclose(
    both.covariance, np.cov(x, rowvar=False), rtol=0, atol=1e-10
  )


def test_feature_stats_save_load_round_trip(tmp_path):
  x = features()
  stats = frechet.FeatureStats.empty(16).update(x)
  path = tmp_path / "real_stats.npz"
  stats.save(path)
  with np.load(path) as data:
    assert set(data.files) == {"mu", "sigma", "count"}
  loaded = frechet.FeatureStats.load(path)
  assert loaded.count == stats.count
  np.testing.assert_array_equal(loaded.mean, stats.mean)
  np.testing.assert_allclose(loaded.covariance, stats.covariance, rtol=1e-14)
  # Loaded statistics keep accumulating as if never saved.
  more = features(seed=1)
  np.testing.assert_allclose(
    loaded.update(more).covariance,
    np.cov(np.concatenate([x, more]), rowvar=False),
    rtol=0,
    atol=1e-10,
  )


def test_fid_from_stats():
  x, y = features(seed=0), features(seed=1)
  a = frechet.FeatureStats.empty(16).update(x)
  b = frechet.FeatureStats.empty(16).update(y)
  expected = sqrtm_frechet(
    x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)
  )
  np.testing.assert_allclose(frechet.fid_from_stats(a, b), expected, rtol=1e-8)
  assert abs(frechet.fid_from_stats(a, a)) < 1e-8


def test_feature_stats_rejects_bad_input():
  stats = frechet.FeatureStats.empty(4)
  with pytest.raises(ValueError, match="at least 2"):
    _ = stats.update(np.zeros((1, 4))).covariance
  with pytest.raises(ValueError, match="dimension"):
    stats.update(np.zeros((3, 5)))
  with pytest.raises(ValueError, match=r"\(n, d\)"):
    stats.update(np.zeros(4))


# Kernel Inception Distance.


def brute_force_mmd2(x: np.ndarray, y: np.ndarray) -> float:
  """The unbiased MMD², one kernel evaluation at a time."""
  m, d = x.shape

  def k(a, b):
    return (float(np.dot(a, b)) / d + 1.0) ** 3

  within = sum(
    k(x[i], x[j]) + k(y[i], y[j]) for i in range(m) for j in range(m) if i != j
  )
  cross = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
  return within / (m * (m - 1)) - 2.0 * cross / m**2


def test_kid_matches_brute_force_on_one_full_subset():
  rng = np.random.default_rng(0)
  real = rng.standard_normal((12, 5))
  fake = 0.5 + rng.standard_normal((12, 5))
  mean, std = kid.kernel_inception_distance(
    real, fake, num_subsets=1, subset_size=12
  )
  np.testing.assert_allclose(mean, brute_force_mmd2(real, fake), atol=1e-10)
  assert std == 0.0


def test_kid_is_near_zero_for_one_distribution_and_positive_when_shifted():
  rng = np.random.default_rng(0)
  real = rng.standard_normal((1000, 32))
  same = rng.standard_normal((1000, 32))
  shifted = 0.5 + rng.standard_normal((1000, 32))
  kwargs = {"num_subsets": 20, "subset_size": 200}
  same_mean, same_std = kid.kernel_inception_distance(real, same, **kwargs)
  shifted_mean, _ = kid.kernel_inception_distance(real, shifted, **kwargs)
  assert abs(same_mean) < 0.01
  assert same_std > 0
  assert shifted_mean > 0.5


def test_kid_clips_the_subset_size_and_is_seeded():
  rng = np.random.default_rng(0)
  real, fake = rng.standard_normal((30, 4)), rng.standard_normal((20, 4))
  one = kid.kernel_inception_distance(real, fake, num_subsets=5)
  assert one == kid.kernel_inception_distance(real, fake, num_subsets=5)
  assert one != kid.kernel_inception_distance(real, fake, 5, seed=1)


# Inception Score.


def reference_inception_score(logits: np.ndarray, splits: int):
  probs = scipy.special.softmax(logits, axis=1)
  n = len(probs)
  scores = []
  for i in range(splits):
    part = probs[i * n // splits : (i + 1) * n // splits]
    marginal = part.mean(axis=0, keepdims=True)
    kl = np.sum(part * (np.log(part) - np.log(marginal)), axis=1)
    scores.append(np.exp(kl.mean()))
  return np.mean(scores), np.std(scores)


def test_inception_score_of_uniform_predictions_is_one():
  mean, std = inception_score.inception_score(np.zeros((100, 10)))
  np.testing.assert_allclose([mean, std], [1.0, 0.0], atol=1e-12)
  mean, _ = inception_score.inception_score(
    np.full((100, 10), 0.1), from_logits=False
  )
  np.testing.assert_allclose(mean, 1.0, atol=1e-12)


def test_inception_score_of_confident_distinct_classes_is_class_count():
  labels = np.arange(200) % 10  # Every split of 20 holds each class twice.
  one_hot = np.eye(10)[labels]
  mean, std = inception_score.inception_score(one_hot, from_logits=False)
  np.testing.assert_allclose([mean, std], [10.0, 0.0], atol=1e-12)
  mean, _ = inception_score.inception_score(50.0 * one_hot)
  np.testing.assert_allclose(mean, 10.0, rtol=1e-6)


def test_inception_score_matches_reference():
  logits = 3.0 * np.random.default_rng(0).standard_normal((105, 7))
  np.testing.assert_allclose(
    inception_score.inception_score(logits, splits=10),
    reference_inception_score(logits, splits=10),
    rtol=1e-10,
  )
  np.testing.assert_allclose(
    inception_score.inception_score(
      scipy.special.softmax(logits, axis=1), splits=10, from_logits=False
    ),
    reference_inception_score(logits, splits=10),
    rtol=1e-10,
  )


def test_inception_score_is_finite_for_extreme_logits():
  logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]])
  mean, _ = inception_score.inception_score(logits, splits=1)
  np.testing.assert_allclose(mean, 2.0, rtol=1e-12)


def test_inception_score_rejects_logits_as_probabilities():
  with pytest.raises(ValueError, match="from_logits"):
    inception_score.inception_score(np.ones((10, 3)), from_logits=False)


# Precision, recall, density and coverage.


def test_prdc_of_identical_sets():
  x = np.random.default_rng(0).standard_normal((300, 8))
  assert prdc.precision_recall(x, x) == (1.0, 1.0)
  density, coverage = prdc.density_coverage(x, x)
  assert coverage == 1.0
  np.testing.assert_allclose(density, 1.0, atol=0.01)


def test_prdc_of_far_apart_sets_is_zero():
  rng = np.random.default_rng(0)
  real = rng.standard_normal((100, 8))
  fake = 100.0 + rng.standard_normal((120, 8))
  assert prdc.precision_recall(real, fake) == (0.0, 0.0)
  assert prdc.density_coverage(real, fake) == (0.0, 0.0)


def test_prdc_in_small_blocks_matches_one_block():
  real = np.random.default_rng(0).standard_normal((50, 4))
  fake = 0.5 + np.random.default_rng(1).standard_normal((43, 4))
  for metric in (prdc.precision_recall, prdc.density_coverage):
    whole = metric(real, fake, block=1024)
    assert all(0.0 < v != 1.0 for v in whole)  # Nothing trivial.
    assert metric(real, fake, block=7) == whole


def test_prdc_hand_checked_1d_example():
  """With k = 1 every radius is the distance to the nearest other point.

  Real 0, 1, 2, 4 have radii 1, 1, 1, 2; generated 3.5, 3.75, 9, 9.5 have
  radii 0.25, 0.25, 0.5, 0.5.
  Precision: 3.5 and 3.75 lie in B(4, 2); 9 and 9.5 in no real ball: 2/4.
  Recall: only 4 lies in a generated ball, on the boundary of the closed
  B(3.75, 0.25): 1/4.
  Density: 3.5 and 3.75 lie in B(4, 2) alone (1.5 and 1.75 from 2, whose
  radius is 1): 2 / (1 · 4).
  Coverage: only 4 has a generated point closer than its radius: 1/4.
  """
  real = np.array([[0.0], [1.0], [2.0], [4.0]])
  fake = np.array([[3.5], [3.75], [9.0], [9.5]])
  assert prdc.precision_recall(real, fake, k=1) == (0.5, 0.25)
  assert prdc.density_coverage(real, fake, k=1) == (0.5, 0.25)


def test_prdc_k_counts_neighbours_other_than_the_point_itself():
  """On 0, 1, 3 the 2nd neighbours of each are 3, 2, 3 away; k = 2 balls."""
  real = np.array([[0.0], [1.0], [3.0]])
  # -2.9 is within 3 of 0 and 5.9 within 3 of 3; -3.5 is in no ball. With
  # each point counted as its own nearest neighbour the radii would be 1, 1,
  # 2 and the precision 0.
  fake = np.array([[-2.9], [5.9], [-3.5]])
  precision, _ = prdc.precision_recall(real, fake, k=2)
  np.testing.assert_allclose(precision, 2 / 3)
  with pytest.raises(ValueError, match="k must be"):
    prdc.precision_recall(real, fake, k=3)
