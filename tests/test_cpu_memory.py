"""The train command's host-memory settings do what they say."""

import ctypes
import ctypes.util
import os
import subprocess
import sys
import textwrap

import pytest

from gan_jax import cpu_memory

# Eight independent branches, each with a materialized intermediate: an
# order made for concurrency keeps several alive at once.
_PROGRAM = textwrap.dedent(
  """
  import sys
  from gan_jax import cpu_memory
  if sys.argv[1] == "low":
    cpu_memory.use_low_memory_scheduler()
  import jax, jax.numpy as jnp

  def f(x, ws):
    outs = []
    for w in ws:
      h = jnp.sort(jnp.concatenate([x @ w, x], axis=1), axis=1)
      outs.append(h[:, :4] @ w[:4])
    return sum(outs)

  x = jnp.ones((512, 512))
  ws = [jnp.full((512, 512), float(i)) for i in range(8)]
  compiled = jax.jit(f).lower(x, ws).compile()
  print(compiled.memory_analysis().temp_size_in_bytes)
  """
)


def _temp_bytes(mode: str) -> int:
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  out = subprocess.run(
    [sys.executable, "-c", _PROGRAM, mode],
    env=env,
    capture_output=True,
    text=True,
    check=True,
  )
  return int(out.stdout.split()[-1])


def test_low_memory_scheduler_reaches_xla_and_keeps_fewer_buffers():
  default, low = _temp_bytes("default"), _temp_bytes("low")
  assert low < 0.8 * default, (low, default)


def test_the_users_own_scheduler_choice_stands(monkeypatch):
  monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
  assert cpu_memory.use_low_memory_scheduler()
  assert os.environ["XLA_FLAGS"] == (
    "--xla_force_host_platform_device_count=2 "
    f"{cpu_memory.SCHEDULER_OPTION}=false"
  )
  mine = f"{cpu_memory.SCHEDULER_OPTION}=true"
  monkeypatch.setenv("XLA_FLAGS", mine)
  assert not cpu_memory.use_low_memory_scheduler()
  assert os.environ["XLA_FLAGS"] == mine
  monkeypatch.delenv("XLA_FLAGS")
  assert cpu_memory.use_low_memory_scheduler()
  assert os.environ["XLA_FLAGS"] == f"{cpu_memory.SCHEDULER_OPTION}=false"


def _rss_bytes() -> int:
  with open("/proc/self/statm") as f:
    return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(
  not sys.platform.startswith("linux") or cpu_memory._malloc_trim() is None,
  reason="malloc_trim is glibc's (Linux)",
)
def test_release_freed_heap_returns_freed_pages():
  libc = ctypes.CDLL(ctypes.util.find_library("c"))
  libc.malloc.restype = ctypes.c_void_p
  libc.free.argtypes = [ctypes.c_void_p]
  # 200 MB in chunks below glibc's mmap threshold, so they come from the
  # heap, touched; one chunk above them keeps free() from trimming the top.
  chunk, count = 64 * 1024, 3200
  chunks = [libc.malloc(chunk) for _ in range(count)]
  keep = libc.malloc(chunk)
  for p in chunks:
    ctypes.memset(p, 1, chunk)
  for p in chunks:
    libc.free(p)
  before = _rss_bytes()
  assert cpu_memory.release_freed_heap()
  after = _rss_bytes()
  libc.free(keep)
  assert before - after > 100 * 2**20, (before, after)


def test_huge_page_heap_env_adds_the_tunable_where_it_changes_something():
  env = cpu_memory.huge_page_heap_env
  on = f"{cpu_memory.HUGE_PAGES_TUNABLE}=1"
  assert env({"A": "1"}, "madvise", (2, 36)) == {"A": "1", "GLIBC_TUNABLES": on}
  other = "glibc.malloc.arena_max=2"
  assert env({"GLIBC_TUNABLES": other}, "madvise", (2, 35)) == {
    "GLIBC_TUNABLES": f"{other}:{on}"
  }
  # The user's own choice stands; 'always' and 'never' need nothing; older
  # or other C libraries have no such tunable.
  assert (
    env({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}, "madvise", (2, 36))
    is None
  )
  assert env({}, "always", (2, 36)) is None
  assert env({}, "never", (2, 36)) is None
  assert env({}, None, (2, 36)) is None
  assert env({}, "madvise", (2, 34)) is None
  assert env({}, "madvise", ()) is None


# Restarts itself as the train command does, then counts the page faults of
# filling a fresh 64 MB block from malloc (glibc maps it): 16,384 at 4 KB a
# page. (Not numpy's: it asks for huge pages itself.)
_FAULTS = textwrap.dedent(
  """
  import ctypes, ctypes.util, os, resource, sys
  from gan_jax import cpu_memory
  cpu_memory.restart_with_huge_page_heap()
  libc = ctypes.CDLL(ctypes.util.find_library("c"))
  libc.malloc.restype = ctypes.c_void_p
  size = 64 * 2**20
  block = libc.malloc(size)
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  ctypes.memset(block, 1, size)
  after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  print(after - before, os.environ.get("GLIBC_TUNABLES"), sys.argv[1:])
  """
)


@pytest.mark.skipif(
  cpu_memory.huge_page_heap_env(
    {}, cpu_memory.transparent_huge_pages(), cpu_memory.glibc_version()
  )
  is None,
  reason="needs glibc 2.35+ and the kernel's transparent huge pages in madvise mode",
)
def test_restart_with_huge_page_heap_maps_large_blocks_with_huge_pages(
  tmp_path,
):
  def faults(tunables):
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    env.update({"GLIBC_TUNABLES": tunables} if tunables else {})
    script = tmp_path / "faults.py"
    script.write_text(_FAULTS)
    out = subprocess.run(
      [sys.executable, str(script), "a", "b c"],
      env=env,
      capture_output=True,
      text=True,
      check=True,
    ).stdout.split(None, 1)
    return int(out[0]), out[1].strip()

  restarted, mine = faults(None), faults("glibc.malloc.hugetlb=0")
  # Restarted with the tunable and the same arguments: 2 MB pages.
  assert restarted[1] == "glibc.malloc.hugetlb=1 ['a', 'b c']", restarted
  assert restarted[0] < 2_000, restarted
  # The user's choice stands: no restart, 4 KB pages.
  assert mine[1] == "glibc.malloc.hugetlb=0 ['a', 'b c']", mine
  assert mine[0] > 15_000, mine


def test_restart_with_huge_page_heap_goes_on_where_it_cannot_restart(
  monkeypatch,
):
  monkeypatch.setattr(
    cpu_memory, "huge_page_heap_env", lambda *_: {"GLIBC_TUNABLES": "x"}
  )
  calls = []

  def refused(*args):
    calls.append(args)
    raise PermissionError("noexec")

  monkeypatch.setattr(cpu_memory.os, "execve", refused)
  cpu_memory.restart_with_huge_page_heap()  # Returns: the command goes on.
  assert calls and calls[0][2] == {"GLIBC_TUNABLES": "x"}
  monkeypatch.setattr(cpu_memory.sys, "executable", "")
  cpu_memory.restart_with_huge_page_heap()  # An embedded interpreter.
  assert len(calls) == 1
