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

import hashlib
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from gan_jax.errors import ConfigError, UserError

# Settings each process may set for itself: where its data is, and how it
# reads it. Everything else must be the same in every process.
PER_PROCESS = frozenset(
  {"data.dir", "data.threads", "data.buffer", "data.in_memory"}
)
# How long a process waits for process 0's coordinator: JAX's own wait
# (``initialization_timeout``).
COORDINATOR_WAIT_S = 300.0


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
    "num_processes": _integer(num, "--num-processes", "JAX_NUM_PROCESSES"),
    "process_id": _integer(index, "--process-id", "JAX_PROCESS_ID"),
  }
  return {k: v for k, v in given.items() if v is not None}


def _integer(value, flag: str, variable: str) -> int | None:
  """A flag's int, or its environment variable's text as an int."""
  if value is None or isinstance(value, int):
    return value
  try:
    return int(value)
  except ValueError:
    raise ConfigError(
      f"{variable}={value!r} is not an integer; set it to one, or give {flag}"
    ) from None


def _check(kwargs: dict, count: str, own: str) -> None:
  """The address is HOST:PORT, and the process id one of the processes;
  ``count`` and ``own`` name where the two numbers came from."""
  _host_and_port(kwargs["coordinator_address"])
  num, index = kwargs["num_processes"], kwargs["process_id"]
  if num < 1:
    raise ConfigError(f"{count}{num} must be at least 1")
  if not 0 <= index < num:
    raise ConfigError(
      f"{own}{index} is not one of the {num} processes; number them 0 to "
      f"{num - 1}"
    )


def _host_and_port(address: str) -> tuple[str, int]:
  host, _, port = address.rpartition(":")
  if not host or not port.isdigit():
    raise ConfigError(
      f"the coordinator address {address} is not HOST:PORT; give process "
      "0's address and a port, e.g. --coordinator 127.0.0.1:1234"
    )
  return host.strip("[]"), int(port)


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
  if kwargs:
    _check(
      kwargs,
      "--num-processes " if num_processes is not None else "JAX_NUM_PROCESSES=",
      "--process-id " if process_id is not None else "JAX_PROCESS_ID=",
    )
  if kwargs.get("process_id", 0) != 0:
    wait_for_coordinator(kwargs["coordinator_address"])
  try:
    jax.distributed.initialize(**kwargs)
  except (RuntimeError, ValueError) as e:
    raise ConfigError(
      f"could not join the distributed runtime ({e}); check --coordinator "
      "and that every process was started"
    ) from None
  _no_compilation_cache_on_cpu()
  return True


def wait_for_coordinator(address: str, seconds: float | None = None) -> None:
  """Waits until ``address`` (HOST:PORT, where process 0 serves JAX's
  coordinator) accepts a connection, for up to ``seconds``
  (:data:`COORDINATOR_WAIT_S`). Without it a wrong address, or a process 0
  that never started, ends in JAX aborting the process after as long, with
  a C++ stack trace that blames another task."""
  seconds = COORDINATOR_WAIT_S if seconds is None else seconds
  host, port = _host_and_port(address)
  deadline = time.monotonic() + seconds
  while True:
    try:
      with socket.create_connection((host, port), timeout=5):
        return
    except OSError:
      if time.monotonic() >= deadline:
        raise ConfigError(
          f"nothing answered at the coordinator address {address} in "
          f"{seconds:g} s; start process 0 with the same address (it serves "
          "there), or correct it"
        ) from None
      time.sleep(0.5)


def _no_compilation_cache_on_cpu() -> None:
  """Turns JAX's persistent compilation cache off in a multi-process run on
  CPU with JAX 0.12 or later. With JAX 0.12.1 such processes, when they load
  their step from a warm cache, hang in its first all-reduce (gloo) and
  ignore SIGTERM there; JAX 0.10.2 and 0.11.2 run them. On CPU the cache
  saves seconds; the run must not hang."""
  if (
    jax.__version_info__ < (0, 12)
    or jax.default_backend() != "cpu"
    or not jax.config.jax_enable_compilation_cache
  ):
    return
  jax.config.update("jax_enable_compilation_cache", False)
  if jax.config.jax_compilation_cache_dir and jax.process_index() == 0:
    print(
      "note: JAX's persistent compilation cache is off in this multi-process "
      "CPU run (a cached program hangs such runs on JAX 0.12)",
      file=sys.stderr,
    )


def agreed_config(read: Callable[[], Any]):
  """``read()``'s config, in every process of a multi-process run: each
  reads (and checks) its own, then all compare; each raises its own error,
  or says which process failed or was given a different config (but for
  :data:`PER_PROCESS`). Without it, a process that fails alone leaves the
  others waiting for it, and one given other settings trains its own copy
  of a state meant to be the same everywhere."""
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top

  from gan_jax import config  # pylint: disable=g-import-not-at-top

  try:
    cfg, error = read(), None
  except UserError as e:
    cfg, error = None, e
  digest = 0
  if error is None:
    flat = config.flatten(config.to_dict(cfg))
    shared = {k: v for k, v in flat.items() if k not in PER_PROCESS}
    text = json.dumps(shared, sort_keys=True, default=str).encode()
    digest = int.from_bytes(hashlib.sha256(text).digest()[:4], "little") >> 1
  mine = np.array([error is None, digest], np.int32)
  every = np.asarray(multihost_utils.process_allgather(mine))
  if error is not None:
    raise error
  for i, (ok, theirs) in enumerate(every):
    if not ok:
      raise ConfigError(
        f"process {i} could not read or validate its config (its own "
        "error line says why); fix it there and start every process again"
      )
    if theirs != every[0][1]:
      raise ConfigError(
        f"process {i} was given a different config from process 0; start "
        "every process with the same --config and key=value settings (only "
        f"{', '.join(sorted(PER_PROCESS))} may differ)"
      )
  return cfg
