"""The data-source protocol of the runner.

A source describes its training stream as a ``grain.MapDataset`` of this
process's batches (:meth:`Source.batches`), endless and random-access: batch
``i`` is a pure function of ``(seed, i)``, and the pipeline's position is
all a resumed run needs (see :mod:`gan_jax.data.pipeline`).

A source with class labels also has ``num_classes`` (> 0) and
:meth:`Labelled.labelled_batches`: the same batches as ``{"x": examples,
"y": int32 labels}``. Conditional runs read those; a source without
``num_classes`` has no labels.

Images are in [-1, 1] unless the source has a ``value_range`` ``(low,
high)`` saying otherwise (TFDS data with ``data.value_range=0,1``); sample
grids and evaluations read it (:func:`value_range`).
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


class Labelled(Source, Protocol):
  num_classes: int

  def labelled_batches(self, batch_size: int, shard: Shard) -> grain.MapDataset:
    """:meth:`batches` with their labels: ``{"x": ..., "y": ...}``."""

  def reference_labels(self, n: int) -> np.ndarray:
    """The labels of :meth:`reference` ``(n)`` (for intra-class metrics)."""


def value_range(source: Source) -> tuple[float, float]:
  """The ``(low, high)`` of the source's examples, the range its generator
  learns to make: ``source.value_range``, else (-1, 1)."""
  low, high = getattr(source, "value_range", (-1.0, 1.0))
  return float(low), float(high)


def num_classes(source: Source) -> int:
  """How many classes the source's labels have; 0 when it has none."""
  return int(getattr(source, "num_classes", 0) or 0)


class InMemory:
  """A finite array of examples, reshuffled every epoch from ``seed``;
  with ``labels`` (ints in ``[0, num_classes)``), a labelled source."""

  kind = "image"

  def __init__(
    self,
    examples: np.ndarray,
    seed: int,
    labels: np.ndarray | None = None,
    num_classes: int = 0,
  ):
    self.examples = np.asarray(examples, np.float32)
    self.example_shape = self.examples.shape[1:]
    self.seed = seed
    self.labels = labels
    self.num_classes = num_classes if labels is not None else 0

  def __len__(self) -> int:
    return len(self.examples)

  def batches(self, batch_size: int, shard: Shard) -> grain.MapDataset:
    return gathered_batches(self.examples, self.seed, batch_size, shard)

  def labelled_batches(self, batch_size: int, shard: Shard) -> grain.MapDataset:
    return gathered_batches(
      self.examples, self.seed, batch_size, shard, labels=self.labels
    )

  def reference(self, n: int) -> np.ndarray:
    return self.examples[:n]

  def reference_labels(self, n: int) -> np.ndarray:
    return np.asarray(self.labels[:n], np.int32)
