"""The data-source protocol of the runner.

A source describes its training stream as a ``grain.MapDataset`` of this
process's batches (:meth:`Source.batches`), endless and random-access: batch
``i`` is a pure function of ``(seed, i)``, and the pipeline's position is
all a resumed run needs (see :mod:`gan_jax.data.pipeline`).
"""

from typing import Literal, Protocol

import grain
import numpy as np

from gan_jax.data.pipeline import Shard, gathered_batches


class Source(Protocol):
  kind: Literal["image", "points"]
  example_shape: tuple[int, ...]

  def batches(self, batch_size: int, shard: Shard) -> grain.MapDataset:
    """This process's rows of every global batch of ``batch_size``."""

  def reference(self, n: int) -> np.ndarray:
    """``n`` real examples for plots and evaluation (no shuffling needed)."""


class InMemory:
  """A finite array of examples, reshuffled every epoch from ``seed``."""

  kind = "image"

  def __init__(self, examples: np.ndarray, seed: int):
    self.examples = np.asarray(examples, np.float32)
    self.example_shape = self.examples.shape[1:]
    self.seed = seed

  def __len__(self) -> int:
    return len(self.examples)

  def batches(self, batch_size: int, shard: Shard) -> grain.MapDataset:
    return gathered_batches(self.examples, self.seed, batch_size, shard)

  def reference(self, n: int) -> np.ndarray:
    return self.examples[:n]
