"""Stacked digits: three independently drawn 8×8 digits as the 3 channels.

The small-scale counterpart of stacked MNIST (VEEGAN, PacGAN): an example has
1,000 possible classes, the digits of its channels read as a 3-digit number
(channel 0 the hundreds). Examples are 8×8×3 in [-1, 1]. Batch ``position``
draws its digits from ``np.random.default_rng([seed, position])``, so it is a
pure function of (seed, position, size).
"""

import grain
import numpy as np

from gan_jax.data import digits
from gan_jax.data.pipeline import Shard, procedural_batches


class StackedDigits:
  kind = "image"
  example_shape = (8, 8, 3)

  def __init__(self, images: np.ndarray, seed: int):
    self.images = np.asarray(images, np.float32)[..., 0]  # (n, 8, 8)
    self.seed = seed

  def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
    """Indices into ``images`` of the digits of ``size`` examples, (size, 3)."""
    return rng.integers(len(self.images), size=(size, 3))

  def stack(self, indices: np.ndarray) -> np.ndarray:
    """Examples (size, 8, 8, 3) whose channels are the digits ``indices``."""
    return np.ascontiguousarray(np.moveaxis(self.images[indices], 1, -1))

  def batch(self, position: int, size: int) -> np.ndarray:
    rng = np.random.default_rng([self.seed, position])
    return self.stack(self.draw(rng, size))

  def batches(self, batch_size: int, shard: Shard) -> grain.MapDataset:
    return procedural_batches(self.batch, batch_size, shard)

  def reference(self, n: int) -> np.ndarray:
    rng = np.random.default_rng([self.seed, 2**32 - 1])
    return self.stack(self.draw(rng, n))


def source(seed: int) -> StackedDigits:
  return StackedDigits(digits.load()[0], seed)
