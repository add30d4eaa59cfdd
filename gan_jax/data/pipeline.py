"""The input pipeline: grain datasets of batches, sharded by process.

A source describes its data as a ``grain.MapDataset`` of this process's
batches (random access, endless). :class:`Pipeline` stacks ``n_critic`` of
them per train step and reads ahead in threads. Its state (a grain iterator
state, JSON) is saved in every checkpoint, so a resumed run sees exactly the
batches an uninterrupted run would. The state counts steps, the same in
every process whatever its shard.

Global batch ``i`` is the same whatever the process count: process ``p`` of
``P`` serves its rows ``[p B/P, (p+1) B/P)``, which is how
``jax.make_array_from_process_local_data`` assembles the global batch.
"""

import collections
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import grain
import numpy as np

ENDLESS = 2**62  # Length of an endless MapDataset of procedural batches.


class Shard(NamedTuple):
  """Which slice of every global batch this process reads."""

  index: int = 0
  count: int = 1

  def rows(self, batch_size: int) -> int:
    return batch_size // self.count


def shuffled_batches(
  examples: grain.MapDataset, seed: int, batch_size: int, shard: Shard
) -> grain.MapDataset:
  """This process's batches of ``examples``, reshuffled every epoch.

  The examples are shuffled as one endless stream (an epoch is a
  permutation of all of them, reseeded each epoch by grain) and cut into
  global batches of ``batch_size``; process ``p`` takes rows
  ``[p b, (p+1) b)`` of each, ``b = batch_size / count``.
  """
  rows = shard.rows(batch_size)
  stream = examples.seed(seed).shuffle().repeat()
  local = stream.batch(rows, drop_remainder=True)
  return local[shard.index :: shard.count]


def gathered_batches(
  array: np.ndarray,
  seed: int,
  batch_size: int,
  shard: Shard,
  transform: Callable[[np.ndarray], np.ndarray] = lambda x: x,
  labels: np.ndarray | None = None,
) -> grain.MapDataset:
  """:func:`shuffled_batches` of the rows of an in-memory ``array``.

  The indices are shuffled and batched instead of the rows, and each batch
  is gathered at once (then ``transform``-ed): the same batches, without a
  Python call per example. With ``labels`` (one per row), each batch is
  ``{"x": rows, "y": their int32 labels}``; the rows are the same.
  """
  indices = grain.MapDataset.range(len(array))
  local = shuffled_batches(indices, seed, batch_size, shard)
  if labels is None:
    return local.map(lambda index: transform(array[index]))
  labels = np.asarray(labels, np.int32)
  return local.map(
    lambda index: {"x": transform(array[index]), "y": labels[index]}
  )


def procedural_batches(
  batch: Callable[[int, int], np.ndarray], batch_size: int, shard: Shard
) -> grain.MapDataset:
  """This process's rows of ``batch(i, batch_size)``, a pure function of i
  (an array, or a dict of arrays with the same rows such as ``{"x", "y"}``)."""
  rows = shard.rows(batch_size)
  start = shard.index * rows

  def local(i):
    whole = batch(i, batch_size)
    if isinstance(whole, dict):
      return {k: v[start : start + rows] for k, v in whole.items()}
    return whole[start : start + rows]

  return grain.MapDataset.range(ENDLESS).map(local)


class Pipeline:
  """Endless ``(n_critic, rows, *example_shape)`` float32 arrays for the step
  (for labelled batches, dicts of them and their ``(n_critic, rows)`` labels).

  ``put`` places each array on the devices as soon as it is read, up to
  ``device_prefetch`` steps ahead. :meth:`state` is the position after the
  arrays already handed out, not after those read ahead.
  """

  def __init__(
    self,
    batches: grain.MapDataset,
    *,
    n_critic: int,
    threads: int = 2,
    buffer: int = 8,
    put: Callable[[np.ndarray], Any] = lambda x: x,
    device_prefetch: int = 2,
  ):
    steps = batches.batch(n_critic)
    options = grain.ReadOptions(
      num_threads=threads, prefetch_buffer_size=buffer
    )
    self._iterator = steps.to_iter_dataset(options).__iter__()
    self._put = put
    self._ahead = max(device_prefetch, 1)
    self._queue: collections.deque = collections.deque()
    self._state = self._iterator.get_state()

  def restore(self, state: Any) -> None:
    """Continues from a position that :meth:`state` returned."""
    self._queue.clear()
    self._iterator.set_state(state)
    self._state = self._iterator.get_state()

  def state(self) -> Any:
    return self._state

  def _read(self) -> None:
    array = next(self._iterator)
    self._queue.append((self._put(array), self._iterator.get_state()))

  def __iter__(self) -> Iterator[Any]:
    return self

  def __next__(self) -> Any:
    while len(self._queue) < self._ahead:
      self._read()
    array, self._state = self._queue.popleft()
    return array
