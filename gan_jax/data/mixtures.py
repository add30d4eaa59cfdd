"""2-D Gaussian mixtures of the mode-collapse literature (VEEGAN, PacGAN).

- ring: 8 Gaussians with means (cos 2πk/8, sin 2πk/8), σ = 0.01;
- grid: 25 Gaussians with means {-4, -2, 0, 2, 4}², σ = 0.05.

Each batch picks modes uniformly and is a pure function of (seed, position).
A point's label is the index of its mode, for conditional runs.
"""

import itertools

import grain
import numpy as np

from gan_jax.data.pipeline import Shard, procedural_batches


class GaussianMixture:
  kind = "points"
  example_shape = (2,)

  def __init__(self, centers: np.ndarray, sigma: float, seed: int):
    self.centers = np.asarray(centers, np.float32)
    self.sigma = float(sigma)
    self.seed = seed
    self.num_classes = len(self.centers)

  def labelled_sample(
    self, rng: np.random.Generator, size: int
  ) -> tuple[np.ndarray, np.ndarray]:
    """``size`` points and the indices of their modes."""
    modes = rng.integers(len(self.centers), size=size)
    noise = rng.standard_normal((size, 2)).astype(np.float32)
    return self.centers[modes] + self.sigma * noise, modes.astype(np.int32)

  def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
    return self.labelled_sample(rng, size)[0]

  def batch(self, position: int, size: int) -> np.ndarray:
    return self.sample(np.random.default_rng([self.seed, position]), size)

  def labelled_batch(self, position: int, size: int) -> dict:
    rng = np.random.default_rng([self.seed, position])
    x, y = self.labelled_sample(rng, size)
    return {"x": x, "y": y}

  def batches(self, batch_size: int, shard: Shard) -> grain.MapDataset:
    return procedural_batches(self.batch, batch_size, shard)

  def labelled_batches(self, batch_size: int, shard: Shard) -> grain.MapDataset:
    return procedural_batches(self.labelled_batch, batch_size, shard)

  def reference(self, n: int) -> np.ndarray:
    return self.sample(np.random.default_rng([self.seed, 2**32 - 1]), n)

  def reference_labels(self, n: int) -> np.ndarray:
    rng = np.random.default_rng([self.seed, 2**32 - 1])
    return self.labelled_sample(rng, n)[1]


def ring_centers(modes: int = 8, radius: float = 1.0) -> np.ndarray:
  angles = 2 * np.pi * np.arange(modes) / modes
  return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_centers() -> np.ndarray:
  return np.array(
    list(itertools.product([-4, -2, 0, 2, 4], repeat=2)), np.float32
  )


def ring(seed: int) -> GaussianMixture:
  return GaussianMixture(ring_centers(), 0.01, seed)


def grid(seed: int) -> GaussianMixture:
  return GaussianMixture(grid_centers(), 0.05, seed)
