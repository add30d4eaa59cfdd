"""Data parallelism as a wrapper around one pure train step.

A strategy compiles the step for its devices, places the state and batches,
and tells the step how its batch axis is split (:class:`BatchAxis`). The
models and the step are the same whichever strategy runs them.

- ``single``: ``jax.jit`` on one device.
- ``mesh`` (the default): ``jax.jit`` over a 1-D device ``Mesh``; the batch is sharded on
  its ``data`` axis, the state replicated, and XLA inserts the collectives.
  BatchNorm statistics are those of the global batch by construction.
- ``pmap``: ``jax.pmap`` over the devices with axis name ``data``; gradients
  and metrics are averaged with ``pmean`` and BatchNorm averages its
  statistics over ``data``, so they too are those of the global batch.

In all three, the noise of a step is one global draw, of which each shard
takes its own rows, so the strategies compute the same function.

Across processes (after ``jax.distributed.initialize``) ``mesh`` spans the
devices of every process: each process hands :meth:`put_batch` its own rows
and ``jax.make_array_from_process_local_data`` assembles the global batch.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from gan_jax.errors import ConfigError

DATA = "data"
PyTree = Any


class BatchAxis(NamedTuple):
  """What the step needs to know about how its batch axis is split.

  ``draw(sample, key, n)``: this shard's ``n`` rows of the global draw
  ``sample(key, n * shards)``. ``mean(tree)``: mean over shards of
  per-shard values. ``shard_key(key)``: a key of this shard's own, for
  per-sample draws made inside a function of the shard's rows
  (augmentations, regularizers), so that shards do not repeat each other's.
  """

  draw: Callable[
    [Callable[[jax.Array, int], jax.Array], jax.Array, int], jax.Array
  ]
  mean: Callable[[PyTree], PyTree]
  shard_key: Callable[[jax.Array], jax.Array] = lambda key: key


LOCAL = BatchAxis(
  draw=lambda sample, key, n: sample(key, n), mean=lambda tree: tree
)


def _one_process(name: str) -> None:
  if jax.process_count() > 1:
    raise ConfigError(
      f"parallel={name} runs in one process but this run has "
      f"{jax.process_count()}; use parallel=mesh across processes"
    )


def _devices(num_devices: int) -> list[jax.Device]:
  """The first ``num_devices`` devices of every process (0: all of them)."""
  devices = jax.devices()
  if jax.process_count() > 1 and num_devices not in (0, len(devices)):
    raise ConfigError(
      f"num_devices={num_devices} but a multi-process run uses all "
      f"{len(devices)} devices of its {jax.process_count()} processes; "
      "set num_devices=0"
    )
  n = num_devices or len(devices)
  if n > len(devices):
    raise ConfigError(
      f"num_devices={n} but only {len(devices)} {devices[0].platform} "
      "device(s) are visible; lower num_devices (on CPU, set XLA_FLAGS="
      f"--xla_force_host_platform_device_count={n} to simulate more)"
    )
  return devices[:n]


class Single:
  """One device, ``jax.jit``."""

  axis_name = None
  batch_axis = LOCAL

  def __init__(self, num_devices: int = 0, batch_size: int = 1):
    del batch_size
    _one_process("single")
    if num_devices > 1:
      raise ConfigError(
        f"num_devices={num_devices} needs parallel=mesh or "
        "parallel=pmap; parallel=single uses one device"
      )
    self.device = jax.local_devices()[0]
    self.num_devices = 1

  def compile(self, step: Callable) -> Callable:
    return jax.jit(step, donate_argnums=0)

  def put_state(self, state: PyTree) -> PyTree:
    return jax.device_put(state, self.device)

  def put_batch(self, batch: PyTree) -> PyTree:
    return jax.device_put(batch, self.device)

  def restore_like(self, state: PyTree) -> PyTree:
    """What a checkpoint is restored into: its structure and placement."""
    return state

  def get_state(self, state: PyTree) -> PyTree:
    return state

  def get_metrics(self, metrics: PyTree) -> PyTree:
    return metrics


def _replicate(x, sharding: NamedSharding) -> jax.Array:
  """``x`` copied to every device of ``sharding``, in every process.

  ``device_put`` reaches only this process's devices; across processes
  each one supplies its copy (all equal) to ``make_array_from_callback``.
  """
  if jax.process_count() == 1:
    return jax.device_put(x, sharding)
  if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
    data = _replicate(jax.random.key_data(x), sharding)
    return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
  x = np.asarray(x)
  return jax.make_array_from_callback(x.shape, sharding, lambda i: x[i])


def _check_divisible(batch_size: int, n: int) -> None:
  if batch_size % n:
    raise ConfigError(
      f"batch_size={batch_size} does not split evenly over "
      f"{n} devices; use a multiple of {n}"
    )


class MeshDataParallel:
  """``jax.jit`` over a 1-D mesh: batch sharded on ``data``, state replicated."""

  axis_name = None

  def __init__(self, num_devices: int = 0, batch_size: int = 1):
    devices = _devices(num_devices)
    self.num_devices = len(devices)
    _check_divisible(batch_size, self.num_devices)
    self.mesh = Mesh(np.asarray(devices), (DATA,))
    self.replicated = NamedSharding(self.mesh, P())
    # Batches are (n_critic, batch, ...): shard the batch axis.
    self.batch_sharding = NamedSharding(self.mesh, P(None, DATA))
    rows = NamedSharding(self.mesh, P(DATA))
    self.batch_axis = BatchAxis(
      draw=lambda sample, key, n: jax.lax.with_sharding_constraint(
        sample(key, n), rows
      ),
      mean=lambda tree: tree,
    )

  def compile(self, step: Callable) -> Callable:
    return jax.jit(
      step,
      donate_argnums=0,
      in_shardings=(self.replicated, self.batch_sharding, self.replicated),
      out_shardings=(self.replicated, self.replicated),
    )

  def put_state(self, state: PyTree) -> PyTree:
    return jax.tree.map(lambda x: _replicate(x, self.replicated), state)

  def put_batch(self, batch: PyTree) -> PyTree:
    """This process's rows ``(n_critic, B / processes, ...)`` -> global batch."""
    processes = jax.process_count()

    def put(x):
      shape = (x.shape[0], x.shape[1] * processes, *x.shape[2:])
      return jax.make_array_from_process_local_data(
        self.batch_sharding, x, shape
      )

    return jax.tree.map(put, batch)

  def restore_like(self, state: PyTree) -> PyTree:
    return self.put_state(state)

  def get_state(self, state: PyTree) -> PyTree:
    return state

  def get_metrics(self, metrics: PyTree) -> PyTree:
    return metrics


class Pmap:
  """``jax.pmap`` over the devices, axis name ``data``."""

  axis_name = DATA

  def __init__(self, num_devices: int = 0, batch_size: int = 1):
    _one_process("pmap")
    self.devices = _devices(num_devices)
    n = self.num_devices = len(self.devices)
    _check_divisible(batch_size, n)

    def draw(sample, key, rows):
      everything = sample(key, rows * n)
      start = jax.lax.axis_index(DATA) * rows
      return jax.lax.dynamic_slice_in_dim(everything, start, rows, axis=0)

    self.batch_axis = BatchAxis(
      draw=draw,
      mean=lambda tree: jax.lax.pmean(tree, DATA),
      shard_key=lambda key: jax.random.fold_in(key, jax.lax.axis_index(DATA)),
    )

  def compile(self, step: Callable) -> Callable:
    return jax.pmap(
      step,
      axis_name=DATA,
      in_axes=(0, 0, None),
      donate_argnums=0,
      devices=self.devices,
    )

  def put_state(self, state: PyTree) -> PyTree:
    """One copy per device, stacked on a leading axis split over devices.

    Placed explicitly: a restored state is committed to one device, which
    pmap would refuse.
    """
    n = self.num_devices
    stacked = NamedSharding(Mesh(np.asarray(self.devices), (DATA,)), P(DATA))
    return jax.tree.map(
      lambda x: jax.device_put(jnp.broadcast_to(x, (n, *x.shape)), stacked),
      state,
    )

  def put_batch(self, batch: PyTree) -> PyTree:
    n = self.num_devices

    def split(x):  # (n_critic, B, ...) -> (devices, n_critic, B / n, ...)
      x = x.reshape(x.shape[0], n, x.shape[1] // n, *x.shape[2:])
      return np.swapaxes(x, 0, 1)

    return jax.tree.map(split, batch)

  def restore_like(self, state: PyTree) -> PyTree:
    return state

  def get_state(self, state: PyTree) -> PyTree:
    return jax.tree.map(lambda x: x[0], state)

  def get_metrics(self, metrics: PyTree) -> PyTree:
    return jax.tree.map(lambda x: x[0], metrics)


STRATEGIES = {"single": Single, "mesh": MeshDataParallel, "pmap": Pmap}


def make(name: str, num_devices: int = 0, batch_size: int = 1):
  return STRATEGIES[name](num_devices=num_devices, batch_size=batch_size)
