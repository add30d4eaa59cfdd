"""The 1,797 real 8×8 handwritten digits that ship inside scikit-learn.

``sklearn.datasets.load_digits`` reads them from the wheel: no download.
Pixels in 0..16 are scaled to [-1, 1]; examples are 8×8×1. Training reads
them through TFDS (:mod:`gan_jax.data.builders.digits`); this array feeds
the stacked digits and the digits classifier of the metrics.
"""

import numpy as np


def load() -> tuple[np.ndarray, np.ndarray]:
  """Returns (images in [-1, 1] of shape (1797, 8, 8, 1), labels 0..9)."""
  from sklearn.datasets import load_digits  # pylint: disable=g-import-not-at-top

  digits = load_digits()
  images = digits.images.astype(np.float32) / 8.0 - 1.0
  return images[..., None], digits.target.astype(np.int32)
