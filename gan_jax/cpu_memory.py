"""Host memory of a run on CPU: two process-wide settings.

- :func:`use_low_memory_scheduler` makes XLA:CPU order each compiled
  program to keep fewer buffers alive at once (its list scheduler) instead
  of ordering for concurrency, its default. For dcgan64 at batch 256 the
  step then needs 2.0 GB instead of 3.2 GB, as fast on 2 cores; the order
  of operations changes no result. XLA reads the option once, from
  ``XLA_FLAGS``, when JAX starts its CPU backend, so this must run before
  the first computation; the train command calls it first thing.
- :func:`release_freed_heap` hands back to the system the heap that XLA's
  compiler allocated and freed (glibc keeps it): 2 GB for dcgan64 at batch
  256, which would otherwise stay resident for the whole run. The train loop
  calls it once the step has compiled.

benchmarks/README.md has the measurements.
"""

import ctypes
import ctypes.util
import functools
import os

SCHEDULER_OPTION = "--xla_cpu_enable_concurrency_optimized_scheduler"


def use_low_memory_scheduler() -> bool:
  """Adds ``SCHEDULER_OPTION=false`` to ``XLA_FLAGS`` unless the variable
  already names the option (the user's choice stands). Returns whether it
  was added; it takes effect only if JAX's CPU backend has not started."""
  flags = os.environ.get("XLA_FLAGS", "")
  if SCHEDULER_OPTION in flags:
    return False
  os.environ["XLA_FLAGS"] = f"{flags} {SCHEDULER_OPTION}=false".strip()
  return True


@functools.cache
def _malloc_trim():
  name = ctypes.util.find_library("c")
  try:
    return ctypes.CDLL(name).malloc_trim if name else None
  except (OSError, AttributeError):  # Not glibc (macOS, musl): nothing to do.
    return None


def release_freed_heap() -> bool:
  """Returns the heap's free pages to the system (glibc's ``malloc_trim``);
  False where the C library has no such call."""
  trim = _malloc_trim()
  if trim is None:
    return False
  trim(0)
  return True
