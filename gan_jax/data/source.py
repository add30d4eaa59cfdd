"""The data-source protocol of the runner.

A source serves batch number ``position`` of a seeded, endless stream as a
float32 NumPy array. ``batch`` is a pure function of ``(seed, position,
size)``, so the position saved in a checkpoint is all a resumed run needs to
see exactly the batches an uninterrupted run would.
"""

from typing import Literal, Protocol

import numpy as np


class Source(Protocol):
  kind: Literal["image", "points"]
  example_shape: tuple[int, ...]

  def batch(self, position: int, size: int) -> np.ndarray:
    """Batch number ``position`` of the stream, shape ``(size, *example_shape)``."""

  def reference(self, n: int) -> np.ndarray:
    """``n`` real examples for plots and evaluation (no shuffling needed)."""


class InMemory:
  """A finite array of examples, reshuffled every epoch from ``seed``.

  Batches never straddle epochs: an epoch is ``len(examples) // size``
  batches and the remainder of its permutation is dropped.
  """

  kind = "image"

  def __init__(self, examples: np.ndarray, seed: int):
    self.examples = np.asarray(examples, np.float32)
    self.example_shape = self.examples.shape[1:]
    self.seed = seed
    self._epoch, self._order = -1, None

  def __len__(self) -> int:
    return len(self.examples)

  def batch(self, position: int, size: int) -> np.ndarray:
    per_epoch = len(self) // size
    if per_epoch == 0:
      raise ValueError(f"batch size {size} exceeds the {len(self)} examples")
    epoch, index = divmod(position, per_epoch)
    if epoch != self._epoch:
      rng = np.random.default_rng([self.seed, epoch])
      self._epoch, self._order = epoch, rng.permutation(len(self))
    return self.examples[self._order[index * size : (index + 1) * size]]

  def reference(self, n: int) -> np.ndarray:
    return self.examples[:n]
