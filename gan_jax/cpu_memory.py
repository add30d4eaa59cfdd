"""Host memory of a run on CPU: three process-wide settings.

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
- :func:`restart_with_huge_page_heap` restarts the command with glibc's
  ``glibc.malloc.hugetlb=1`` tunable, so that malloc asks for transparent
  huge pages for the large blocks it maps (the kernel's ``madvise`` mode).
  XLA allocates a call's temporaries afresh at every call (142 MB for
  dcgan32 at batch 64), and glibc maps them anew, so the kernel faults
  them in 4 KB at a time: 41,000 page faults per step, 3,000 with huge
  pages, and the step runs about 10% faster on a 2-core Zen 4. glibc reads
  the tunable only when a process starts, so the train and sweep commands
  re-execute themselves (same process id, arguments and environment, plus
  the tunable) before doing anything else. A ``glibc.malloc.hugetlb``
  already in ``GLIBC_TUNABLES`` stands: ``=0`` turns this off.

benchmarks/README.md has the measurements.
"""

import ctypes
import ctypes.util
import functools
import os
import sys
from collections.abc import Mapping

SCHEDULER_OPTION = "--xla_cpu_enable_concurrency_optimized_scheduler"
HUGE_PAGES_TUNABLE = "glibc.malloc.hugetlb"
_THP_MODE = "/sys/kernel/mm/transparent_hugepage/enabled"


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


def transparent_huge_pages() -> str | None:
  """The kernel's transparent huge page mode: 'always', 'madvise' or
  'never'; None where there is no such setting (not Linux)."""
  try:
    with open(_THP_MODE) as f:
      text = f.read()
  except OSError:
    return None
  chosen = [word[1:-1] for word in text.split() if word.startswith("[")]
  return chosen[0] if chosen else None


def glibc_version() -> tuple[int, ...]:
  """glibc's (major, minor); () for other C libraries."""
  try:  # "glibc 2.36"; unset elsewhere (macOS, musl).
    _, version = os.confstr("CS_GNU_LIBC_VERSION").split()
  except (AttributeError, ValueError, OSError):
    return ()
  return tuple(int(part) for part in version.split(".")[:2])


def huge_page_heap_env(
  environ: Mapping[str, str], thp_mode: str | None, glibc: tuple[int, ...]
) -> dict[str, str] | None:
  """``environ`` plus ``glibc.malloc.hugetlb=1`` in ``GLIBC_TUNABLES``, or
  None where that would change nothing: the variable already names the
  tunable (the user's choice stands), the kernel's mode is not 'madvise'
  ('always' gives huge pages anyway, 'never' none), or the C library is not
  glibc 2.35 or later (the tunable's first release)."""
  tunables = environ.get("GLIBC_TUNABLES", "")
  if HUGE_PAGES_TUNABLE in tunables:
    return None
  if thp_mode != "madvise" or glibc < (2, 35):
    return None
  return {
    **environ,
    "GLIBC_TUNABLES": with_tunable(tunables, f"{HUGE_PAGES_TUNABLE}=1"),
  }


def with_tunable(tunables: str | None, setting: str) -> str:
  """``GLIBC_TUNABLES``'s value ``tunables`` with ``setting`` added last
  (glibc reads them in order, so it wins over an earlier one)."""
  return f"{tunables}:{setting}" if tunables else setting


def restart_with_huge_page_heap() -> None:
  """Re-executes this Python command (``sys.orig_argv``, same process id)
  with :func:`huge_page_heap_env`'s environment; returns where that is
  None, or where the interpreter cannot be executed again (an embedded
  one, or the system refuses), so the command goes on as it is. Call it
  first thing in a command's ``__main__``, never from a library call: it
  replaces the process."""
  env = huge_page_heap_env(
    os.environ, transparent_huge_pages(), glibc_version()
  )
  if env is None or not sys.executable:
    return
  sys.stdout.flush()
  sys.stderr.flush()
  try:
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
  except OSError:
    return
