"""Joining JAX's distributed runtime for multi-process (multi-host) runs.

The train command joins when asked, before JAX touches a device:

- ``--distributed``: auto-detected by JAX on Cloud TPU pod slices, SLURM
  (``srun``) and Open MPI, with no other flag;
- ``--coordinator HOST:PORT --num-processes N --process-id I`` (or the
  environment variables ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``
  and ``JAX_PROCESS_ID``): any cluster, e.g. several processes on one
  machine with ``127.0.0.1``.

Each process then reads its own shard of every batch, and only process 0
writes logs and samples; see :mod:`gan_jax.run`.
"""

import os

import jax

from gan_jax.errors import ConfigError


def settings(coordinator, num_processes, process_id) -> dict:
  """Explicit settings from the flags, else from the environment."""
  env = os.environ
  coordinator = coordinator or env.get("JAX_COORDINATOR_ADDRESS")
  num = (
    num_processes if num_processes is not None else env.get("JAX_NUM_PROCESSES")
  )
  index = process_id if process_id is not None else env.get("JAX_PROCESS_ID")
  given = {
    "coordinator_address": coordinator,
    "num_processes": None if num is None else int(num),
    "process_id": None if index is None else int(index),
  }
  return {k: v for k, v in given.items() if v is not None}


def initialize(
  enabled: bool = False,
  coordinator: str | None = None,
  num_processes: int | None = None,
  process_id: int | None = None,
) -> bool:
  """Calls ``jax.distributed.initialize`` when enabled or given settings."""
  kwargs = settings(coordinator, num_processes, process_id)
  if not (enabled or kwargs):
    return False
  if kwargs and set(kwargs) != {
    "coordinator_address",
    "num_processes",
    "process_id",
  }:
    missing = {"coordinator_address", "num_processes", "process_id"} - set(
      kwargs
    )
    raise ConfigError(
      f"multi-process run without {', '.join(sorted(missing))}; give "
      "--coordinator, --num-processes and --process-id together (or use "
      "--distributed alone on TPU, SLURM or Open MPI)"
    )
  try:
    jax.distributed.initialize(**kwargs)
  except (RuntimeError, ValueError) as e:
    raise ConfigError(
      f"could not join the distributed runtime ({e}); check --coordinator "
      "and that every process was started"
    ) from None
  return True
