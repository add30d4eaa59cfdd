"""The grain pipeline: global batches independent of the process count,
epochs that reshuffle, and a position that restores exactly."""

import grain
import numpy as np
import pytest

from gan_jax import data
from gan_jax.data.pipeline import (
  Pipeline,
  Shard,
  procedural_batches,
  shuffled_batches,
)

IDS = grain.MapDataset.source(np.arange(100, dtype=np.float32)[:, None])


@pytest.mark.parametrize("count", [2, 4])
def test_process_shards_assemble_the_single_process_batches(count):
  whole = shuffled_batches(IDS, 7, 16, Shard())
  parts = [shuffled_batches(IDS, 7, 16, Shard(i, count)) for i in range(count)]
  for b in (0, 5, 6, 31):  # Batch 6 straddles the first epoch's end.
    assert np.array_equal(np.concatenate([p[b] for p in parts]), whole[b])


def test_every_epoch_is_a_new_permutation_of_all_examples():
  stream = np.concatenate(
    [shuffled_batches(IDS, 7, 10, Shard())[b] for b in range(30)]
  ).ravel()
  epochs = stream.reshape(3, 100)
  for epoch in epochs:
    assert sorted(epoch) == list(range(100))
  assert not np.array_equal(epochs[0], epochs[1])
  other_seed = shuffled_batches(IDS, 8, 10, Shard())[0].ravel()
  assert not np.array_equal(other_seed, stream[:10])


def test_procedural_shards_are_rows_of_the_global_batch():
  def batch(i, n):
    return np.random.default_rng([3, i]).random((n, 2))

  whole = procedural_batches(batch, 8, Shard())[5]
  parts = [procedural_batches(batch, 8, Shard(i, 2))[5] for i in range(2)]
  assert np.array_equal(np.concatenate(parts), whole)


def test_restored_pipeline_continues_exactly():
  batches = shuffled_batches(IDS, 1, 8, Shard())
  first = Pipeline(batches, n_critic=2, device_prefetch=3)
  for _ in range(5):
    next(first)
  saved = first.state()  # After the 5 handed out, not the 3 read ahead.
  rest = [next(first) for _ in range(20)]
  second = Pipeline(batches, n_critic=2)
  second.restore(saved)
  for expected in rest:
    assert np.array_equal(next(second), expected)
  assert rest[0].shape == (2, 8, 1)
  assert np.array_equal(rest[0][1], batches[11])


def test_put_places_each_step_as_it_is_read():
  placed = []
  pipe = Pipeline(
    shuffled_batches(IDS, 1, 4, Shard()),
    n_critic=1,
    put=lambda x: placed.append(x) or ("placed", len(placed)),
    device_prefetch=2,
  )
  assert next(pipe) == ("placed", 1)
  assert len(placed) == 2  # One step read ahead.


def test_in_memory_source_serves_grain_batches():
  source = data.InMemory(np.arange(64, dtype=np.float32)[:, None], seed=0)
  batches = source.batches(16, Shard())
  assert batches[0].shape == (16, 1)
  epoch = np.concatenate([batches[i] for i in range(4)]).ravel()
  assert sorted(epoch) == list(range(64))
