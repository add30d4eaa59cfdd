"""The Fréchet distance between Gaussians, and streaming feature statistics.

The Fréchet (2-Wasserstein) distance between N(μ₁, Σ₁) and N(μ₂, Σ₂) is

    d² = ‖μ₁ - μ₂‖² + Tr(Σ₁ + Σ₂ - 2 (Σ₁ Σ₂)^½).

Applied to the mean and covariance of Inception features of real and
generated images it is the FID (Heusel et al. 2017). :class:`FeatureStats`
accumulates that mean and covariance batch by batch, in float64, without
holding all the features.
"""

import dataclasses
import os

import numpy as np


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
  """Σ^½ = V diag(√max(λ, 0)) Vᵀ for Σ = V diag(λ) Vᵀ symmetric."""
  eigenvalues, vectors = np.linalg.eigh(sigma)
  return (vectors * np.sqrt(np.maximum(eigenvalues, 0.0))) @ vectors.T


def _symmetric(x: np.ndarray) -> np.ndarray:
  return 0.5 * (x + x.T)


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
  """Tr (Σ₁ Σ₂)^½ for symmetric positive semi-definite Σ₁, Σ₂.

  Σ₁ Σ₂ is similar to the symmetric PSD matrix Σ₁^½ Σ₂ Σ₁^½, so the
  eigenvalues are the same and real: Tr (Σ₁ Σ₂)^½ = Σᵢ √λᵢ(Σ₁^½ Σ₂ Σ₁^½).
  Negative eigenvalues from rounding are clipped to zero.
  """
  root = _psd_sqrt(sigma1)
  eigenvalues = np.linalg.eigvalsh(_symmetric(root @ sigma2 @ root))
  return float(np.sum(np.sqrt(np.maximum(eigenvalues, 0.0))))


def frechet_distance(
  mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
  """d² = ‖μ₁ - μ₂‖² + Tr Σ₁ + Tr Σ₂ - 2 Tr (Σ₁ Σ₂)^½, in float64.

  Args:
    mu1: the mean of the first Gaussian, shape (d,).
    sigma1: its covariance, symmetric positive semi-definite, shape (d, d).
    mu2: the mean of the second Gaussian, shape (d,).
    sigma2: its covariance, shape (d, d).

  Returns:
    The squared Fréchet distance as a Python float. It is ≥ 0 up to rounding.

  Raises:
    ValueError: if the shapes do not match.
  """
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  sigma1 = np.asarray(sigma1, np.float64)
  sigma2 = np.asarray(sigma2, np.float64)
  if mu1.ndim != 1 or mu1.shape != mu2.shape:
    raise ValueError(
      f"means must be vectors of the same length, got shapes {mu1.shape} "
      f"and {mu2.shape}"
    )
  d = mu1.shape[0]
  for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
    if sigma.shape != (d, d):
      raise ValueError(
        f"{name} must have shape {(d, d)} to match the means, got {sigma.shape}"
      )
  sigma1, sigma2 = _symmetric(sigma1), _symmetric(sigma2)
  diff = mu1 - mu2
  return float(
    diff @ diff
    + np.trace(sigma1)
    + np.trace(sigma2)
    - 2.0 * trace_sqrt_product(sigma1, sigma2)
  )


@dataclasses.dataclass(frozen=True, eq=False)
class FeatureStats:
  """Running mean and covariance of feature vectors, in float64.

  Holds n, the mean μ and M2 = Σᵢ (xᵢ - μ)(xᵢ - μ)ᵀ; the unbiased covariance
  is M2 / (n - 1), as ``np.cov(x, rowvar=False)``. Two accumulators combine
  with the parallel formula of Chan et al. (1979): with δ = μ_b - μ_a and
  n = n_a + n_b,

      μ = μ_a + δ n_b / n,   M2 = M2_a + M2_b + δ δᵀ n_a n_b / n.

  Each method returns a new accumulator; none is modified in place.
  """

  count: int
  mean: np.ndarray
  m2: np.ndarray

  @classmethod
  def empty(cls, dim: int) -> "FeatureStats":
    return cls(0, np.zeros(dim), np.zeros((dim, dim)))

  @property
  def dim(self) -> int:
    return self.mean.shape[0]

  @classmethod
  def of(cls, features: np.ndarray) -> "FeatureStats":
    """The statistics of one batch of features, shape (n, d)."""
    x = np.asarray(features, np.float64)
    if x.ndim != 2:
      raise ValueError(f"features must have shape (n, d), got {x.shape}")
    if x.shape[0] == 0:
      return cls.empty(x.shape[1])
    mean = x.mean(axis=0)
    centred = x - mean
    return cls(x.shape[0], mean, centred.T @ centred)

  def update(self, features: np.ndarray) -> "FeatureStats":
    """Adds a batch of features of shape (n, d)."""
    return self.merge(FeatureStats.of(features))

  def merge(self, other: "FeatureStats") -> "FeatureStats":
    """The statistics of the union of both accumulators' features."""
    if other.dim != self.dim:
      raise ValueError(
        f"cannot merge statistics of dimension {self.dim} and {other.dim}"
      )
    if other.count == 0:
      return self
    if self.count == 0:
      return other
    n = self.count + other.count
    delta = other.mean - self.mean
    mean = self.mean + delta * (other.count / n)
    m2 = (
      self.m2
      + other.m2
      + np.outer(delta, delta) * (self.count * other.count / n)
    )
    return FeatureStats(n, mean, m2)

  @property
  def covariance(self) -> np.ndarray:
    """The unbiased covariance M2 / (n - 1)."""
    if self.count < 2:
      raise ValueError(
        f"the covariance needs at least 2 features, got {self.count}"
      )
    return self.m2 / (self.count - 1)

  def save(self, path: str | os.PathLike) -> None:
    """Writes ``mu``, ``sigma`` and ``count`` to an .npz file at ``path``."""
    with open(path, "wb") as f:
      np.savez(f, mu=self.mean, sigma=self.covariance, count=self.count)

  @classmethod
  def load(cls, path: str | os.PathLike) -> "FeatureStats":
    """Reads statistics written by :meth:`save`."""
    with np.load(path) as data:
      count = int(data["count"])
      mean = np.asarray(data["mu"], np.float64)
      sigma = np.asarray(data["sigma"], np.float64)
    return cls(count, mean, sigma * (count - 1))


def fid_from_stats(a: FeatureStats, b: FeatureStats) -> float:
  """The Fréchet distance between the Gaussians fitted to ``a`` and ``b``."""
  return frechet_distance(a.mean, a.covariance, b.mean, b.covariance)


def intra_fid(real, real_labels, fake, fake_labels) -> dict[int, float]:
  """FID within each class (Miyato and Koyama 2018): for each class of the
  generated labels, the FID between the real and the generated features of
  that class. Features are (n, d); labels (n,) ints. Returns {class: FID}.
  """
  real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
  real_labels, fake_labels = np.asarray(real_labels), np.asarray(fake_labels)
  if len(real) != len(real_labels) or len(fake) != len(fake_labels):
    raise ValueError(
      f"features and labels differ in number: {len(real)} real features for "
      f"{len(real_labels)} labels, {len(fake)} generated for "
      f"{len(fake_labels)}"
    )
  scores = {}
  for c in np.unique(fake_labels):
    a, b = real[real_labels == c], fake[fake_labels == c]
    if len(a) < 2 or len(b) < 2:
      raise ValueError(
        f"class {c} has {len(a)} real and {len(b)} generated examples; "
        "intra-FID needs at least 2 of each"
      )
    scores[int(c)] = fid_from_stats(FeatureStats.of(a), FeatureStats.of(b))
  return scores
