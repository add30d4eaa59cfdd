"""The train command's two host-memory settings do what they say."""

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
