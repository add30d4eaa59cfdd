"""The GAN train step of gan_jax against plain PyTorch, side by side.

    python benchmarks/train_step.py --workload dcgan32 [--batch 64]
        [--repeats 5] [--seconds 10] [--steps-per-call 1,4]
        [--conv-impl auto] [--precision float32,bfloat16]
        [--reuse-fakes no,yes] [--torch-precision float32,bfloat16]
        [--malloc glibc,glibc-small-pages,jemalloc,tcmalloc]
        [--torch-compile] [--torch-device cpu] [--no-torch]
        [--torch-python PYTHON]

Workloads (the performance issue defines them): `dcgan32`, G z(128) →
4×4×512 → 8×8×256 → 16×16×128 → 32×32×3 with 4×4 stride-2 transposed
convolutions, BatchNorm and ReLU, tanh; D mirrors it with LeakyReLU 0.2 and a
4×4 valid convolution to one logit; Adam(2e-4, 0.5, 0.999) for both; one D
update on a real and a fake batch, then one G update, non-saturating BCE.
`dcgan64` adds one block on each side (G widths 1024-512-256-128).

gan_jax and PyTorch run in two worker processes, so that each one's peak
memory is its own, and take turns: every repeat times gan_jax for about
``--seconds`` and then PyTorch for as long, so both see the same machine
state. Both train on the same fixed batch already on the device (the input
pipeline has its own benchmark). Printed per implementation:

- img/s: images per second of training, the median over repeats (the
  slowest and fastest repeat beside it), and its ratio to PyTorch's doing
  the same work: the same ``--reuse-fakes`` (the G update on the D
  update's fakes, or on a fake batch of fresh noise, which is one G
  forward pass more and gan_jax's default), in the same precision where
  that was timed (``--torch-precision bfloat16`` is PyTorch's autocast),
  else in the first PyTorch precision. Each worker sends a call
  before it waits for the one before, as a train loop that waits only to
  log does (JAX dispatches asynchronously, as do PyTorch's GPU kernels;
  PyTorch on CPU is done when its call returns);
- FLOP/img: FLOPs per image of one step, gan_jax's from XLA's cost analysis
  of the compiled step, PyTorch's from ``torch.utils.flop_counter``. With
  Winograd convolutions (``--conv-impl winograd``, the default on CPU) the
  step executes fewer multiplications than the convolutions it computes:
  those rows show "executed / direct", the direct count being that of the
  same step with im2col and col2im, whose products have exactly the direct
  convolutions' FLOPs, and the FLOP/s and ceiling columns likewise (the
  direct one is the effective rate, as Winograd is usually reported);
- GFLOP/s and its fraction of the matmul ceiling: a 2048×2048 float32
  matrix multiplication timed in the same run (the faster of JAX's and
  PyTorch's), and a bfloat16 one (float32 accumulation) when a worker runs
  in bfloat16;
- peak RSS: the worker's peak resident memory while it trains (on Linux the
  peak is reset once the worker has compiled and warmed up, so it is the
  training's, not the compiler's); gan_jax's worker runs as the train
  command does (``gan_jax.cpu_memory``: XLA's low-memory scheduler, and the
  heap the compiler freed handed back). ``--json`` also keeps the RSS after
  the worker's imports and once it has compiled;
- compile: seconds from the start of the first step to the end of the
  warm-up (PyTorch eager: two warm-up steps and the FLOP count).

Both workers run on glibc's malloc as the train command does: where the
kernel gives transparent huge pages on request and glibc is 2.35 or later,
with ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1``
(``gan_jax.cpu_memory.restart_with_huge_page_heap``). ``--malloc
glibc-small-pages`` runs workers on glibc's defaults as well (the tunable at
0), and ``--malloc jemalloc`` (or ``tcmalloc``) with that allocator
(``LD_PRELOAD``; Debian's libjemalloc2 and libtcmalloc-minimal4), each in
workers of their own; every ratio is then to PyTorch's fastest allocator in
that precision.

The last line is ``<workload> gan_jax=<img/s> torch=<img/s> ratio=<r>``.
"""

import argparse
import ctypes.util
import functools
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time

from gan_jax import cpu_memory

WORKLOADS = {
  "dcgan32": {"resolution": 32, "width": 128, "latent_dim": 128},
  "dcgan64": {"resolution": 64, "width": 128, "latent_dim": 128},
}


def cpu_name() -> str:
  """The CPU's model name, family and model (Linux), e.g. ``AMD EPYC
  (family 25, model 17)``: results depend on it, and a cloud machine's
  CPU can change under the same name. Elsewhere, what ``platform`` says."""
  fields = {}
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        key, _, value = line.partition(":")
        if not line.strip():
          break  # The first processor's block says it.
        fields.setdefault(key.strip(), value.strip())
  except OSError:
    pass
  name = fields.get("model name") or platform.processor()
  if not name:
    return platform.machine()
  if "cpu family" in fields and "model" in fields:
    name += f" (family {fields['cpu family']}, model {fields['model']})"
  return name


def _status_mb(field: str) -> float | None:
  try:
    with open("/proc/self/status") as f:
      for line in f:
        if line.startswith(field + ":"):
          return int(line.split()[1]) / 1024
  except OSError:
    pass
  return None


def _rss_mb() -> float:
  """Resident memory now (MB)."""
  return (
    _status_mb("VmRSS")
    or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  )


def _reset_peak() -> bool:
  """Restarts the peak-RSS count (Linux), so that compilation's peak does
  not count as the training's."""
  try:
    with open("/proc/self/clear_refs", "w") as f:
      f.write("5")
    return True
  except OSError:
    return False


def _peak_mb() -> float:
  return (
    _status_mb("VmHWM")
    or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  )


def _timed(impl, k: int, seconds: float, batch: int) -> float:
  """img/s of whole calls of ``impl.run(k)`` for at least ``seconds``,
  ``impl.finish()`` waiting for the last one."""
  images, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    images += impl.run(k) * batch
  impl.finish()
  return images / (time.perf_counter() - start)


class JaxWorker:
  def __init__(self, args):
    import jax
    import numpy as np

    from gan_jax import config as config_lib
    from gan_jax import (
      cpu_memory,
      keys,
      losses,
      models,
      optimizers,
      parallel,
      step,
    )
    from gan_jax import state as state_lib
    from gan_jax.multi_step import steps_per_call

    self.jax, self.base_rss = jax, _rss_mb()
    w = WORKLOADS[args.workload]
    res, b = w["resolution"], args.batch
    opt = optimizers.build(config_lib.OptimizerConfig())

    def build(conv_impl):
      model_cfg = config_lib.ModelConfig(
        arch="dcgan",
        width=w["width"],
        latent_dim=w["latent_dim"],
        conv_impl=conv_impl,
        precision=args.precision,
      )
      g, d = models.build(model_cfg, (res, res, 3))
      train_step = step.make_train_step(
        g,
        d,
        losses.LOSSES["non_saturating"],
        opt,
        opt,
        latent_dim=w["latent_dim"],
        reuse_fakes=args.reuse_fakes,
      )
      return g, d, train_step

    strategy = parallel.make("single", 0, b)
    g, d, train_step = build(args.conv_impl)
    real = np.random.default_rng(0).uniform(-1, 1, (b, res, res, 3))
    real = real.astype(np.float32)
    root = keys.root(0)
    state = state_lib.init(
      keys.stream(root, keys.INIT),
      keys.stream(root, keys.TRAIN),
      g,
      d,
      opt,
      opt,
      latent_dim=w["latent_dim"],
      example=real[:2],
    )
    self.train_root = keys.copy(state.rng)
    self.state = strategy.put_state(state)
    # The step's FLOPs from XLA's cost analysis of the lowered (not yet
    # optimized) step: the same count as the compiled one's on CPU (1.879
    # against 1.882 GFLOP/img for dcgan32), and it also counts convolutions
    # that GPU compilation turns into library calls.
    one = jax.jit(train_step).lower(state, {"x": real[None]}, self.train_root)
    lowered_cost = one.cost_analysis()
    # Winograd's products do fewer multiplications than the convolutions
    # they compute. The direct convolutions' FLOPs are those of the same
    # step with im2col and col2im (matmul_conv), whose products have
    # exactly their FLOPs: the work PyTorch's count measures.
    self.impl, direct_cost = models.conv_impl(args.conv_impl), None
    if self.impl == "winograd" and lowered_cost:
      direct = jax.jit(build("matmul")[2])
      direct = direct.lower(state, {"x": real[None]}, self.train_root)
      direct_cost = direct.cost_analysis()
    self.fns, self.batches = {}, {}
    start = time.perf_counter()  # The timed functions' compile and warm-up.
    for k in args.steps_per_call:
      fn = train_step if k == 1 else steps_per_call(train_step, k)
      self.batches[k] = strategy.put_batch({"x": np.stack([real] * k)})
      self.fns[k] = (
        strategy.compile(fn)
        .lower(self.state, self.batches[k], self.train_root)
        .compile()
      )
    k0 = args.steps_per_call[0]
    # Where the lowered step has no analysis, the compiled one-step
    # program's: not the k-step one, whose scan body XLA counts once.
    cost = lowered_cost or one.compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    self.flops = cost["flops"] / b
    self.direct_flops = direct_cost["flops"] / b if direct_cost else self.flops
    stats = self.fns[k0].memory_analysis()
    # What XLA allocates for one call: arguments (state, batch, key),
    # outputs and temporaries, less the donated buffers reused as outputs.
    self.planned_mb = (
      stats.argument_size_in_bytes
      + stats.output_size_in_bytes
      + stats.temp_size_in_bytes
      - stats.alias_size_in_bytes
    ) / 2**20
    self.precision, self.reuse_fakes = args.precision, args.reuse_fakes
    self.step_count, self.pending = 0, None
    for k in args.steps_per_call:
      self.run(k)
    self.finish()
    self.compile_s = time.perf_counter() - start
    cpu_memory.release_freed_heap()  # As the train loop does, compiled.
    self.gpu = jax.devices()[0].platform != "cpu"

  def run(self, k: int) -> int:
    key = (
      self.train_root
      if k > 1
      else self.jax.random.fold_in(self.train_root, self.step_count)
    )
    self.state, metrics = self.fns[k](self.state, self.batches[k], key)
    self.finish()  # The previous call: one call runs while the next is sent.
    self.pending = metrics
    self.step_count += k
    return k

  def finish(self) -> None:
    """Waits for the last call sent."""
    self.jax.block_until_ready(self.pending)
    self.pending = None

  def matmul(self) -> dict:
    """Matmul ceilings in FLOP/s: float32 and bf16 on CPU (2048²); on an
    accelerator (8192²) float32, TF32 (XLA's default precision for float32)
    and bf16."""
    jax, jnp = self.jax, self.jax.numpy
    if not self.gpu:
      return {
        "float32": _matmul_rate(jax, 2048, jnp.float32, "highest"),
        "bfloat16": _matmul_rate(jax, 2048, jnp.bfloat16, "default"),
      }
    return {
      "float32": _matmul_rate(jax, 8192, jnp.float32, "highest"),
      "tf32": _matmul_rate(jax, 8192, jnp.float32, "default"),
      "bfloat16": _matmul_rate(jax, 8192, jnp.bfloat16, "default"),
    }

  def memory(self) -> dict:
    if not self.gpu:
      return {}
    peak = self.jax.devices()[0].memory_stats().get("peak_bytes_in_use", 0)
    return {"device_peak_mb": peak / 2**20, "planned_mb": self.planned_mb}

  def info(self) -> dict:
    return {
      "flops": self.flops,
      "direct_flops": self.direct_flops,
      "compile_s": self.compile_s,
      "conv_impl": self.impl,
      "precision": self.precision,
      "reuse_fakes": self.reuse_fakes,
      "version": f"JAX {self.jax.__version__}",
      "device": str(self.jax.devices()[0].device_kind),
      **self.memory(),
    }


def _matmul_rate(jax, n: int, dtype, precision: str) -> float:
  """FLOP/s of an n×n matmul on random data: 10 in a row, median of 5.
  bfloat16 accumulates and returns float32, as gan_jax's products do (and
  as XLA:CPU needs for its bf16 instructions)."""
  a = jax.random.normal(jax.random.key(0), (n, n), dtype)
  wide = jax.numpy.promote_types(dtype, jax.numpy.float32)
  f = jax.jit(
    lambda a: jax.numpy.matmul(
      a, a, precision=precision, preferred_element_type=wide
    )
  )
  f(a).block_until_ready()
  times = []
  for _ in range(5):
    start = time.perf_counter()
    for _ in range(10):
      out = f(a)
    out.block_until_ready()
    times.append((time.perf_counter() - start) / 10)
  return 2 * n**3 / statistics.median(times)


class TorchWorker:
  def __init__(self, args):
    import torch

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch_dcgan

    self.torch, self.base_rss = torch, _rss_mb()
    w = WORKLOADS[args.workload]
    self.device = args.torch_device
    self.workload = torch_dcgan.Workload(
      w["resolution"],
      w["latent_dim"],
      w["width"],
      args.batch,
      self.device,
      args.torch_compile,
      args.torch_precision,
      reuse_fakes=args.reuse_fakes,
    )
    res = w["resolution"]
    torch.manual_seed(0)
    self.real = torch.rand(args.batch, 3, res, res, device=self.device) * 2 - 1
    start = time.perf_counter()
    from torch.utils.flop_counter import FlopCounterMode

    # FLOPs per image do not depend on the batch: count 8 images, eagerly.
    with FlopCounterMode(display=False) as counter:
      torch_dcgan.Workload(
        w["resolution"],
        w["latent_dim"],
        w["width"],
        8,
        "cpu",
        False,
        reuse_fakes=args.reuse_fakes,
      ).step(torch.rand(8, 3, res, res) * 2 - 1)
    self.flops = counter.get_total_flops() / 8
    self.pending = None
    for _ in range(2):
      self.run(1)
    self.finish()
    self.compile_s = time.perf_counter() - start
    self.gpu = self.device != "cpu"
    if self.gpu:
      torch.cuda.reset_peak_memory_stats()

  def run(self, k: int) -> int:
    for _ in range(k):
      losses = self.workload.step(self.real)
    self.finish()  # The previous call's (eager on CPU: done already).
    self.pending = losses[0]
    return k

  def finish(self) -> None:
    """Waits for the last call sent (on a GPU, its kernels)."""
    if self.pending is not None:
      self.pending.item()
    self.pending = None

  def matmul(self) -> dict:
    torch = self.torch
    if not self.gpu:
      return {
        "float32": self._matmul_rate(2048, torch.float32),
        "bfloat16": self._matmul_rate(2048, torch.bfloat16),
      }
    rates = {}
    for name, dtype, tf32 in [
      ("float32", torch.float32, False),
      ("tf32", torch.float32, True),
      ("bfloat16", torch.bfloat16, False),
    ]:
      torch.backends.cuda.matmul.allow_tf32 = tf32
      rates[name] = self._matmul_rate(8192, dtype)
    torch.backends.cuda.matmul.allow_tf32 = False  # PyTorch's default
    return rates

  def _matmul_rate(self, n: int, dtype) -> float:
    """FLOP/s of an n×n matmul on random data: 10 in a row, median of 5."""
    a = self.torch.randn(n, n, device=self.device, dtype=dtype)
    (a @ a).sum().item()
    times = []
    for _ in range(5):
      start = time.perf_counter()
      for _ in range(10):
        out = a @ a
      out[0, 0].item()
      times.append((time.perf_counter() - start) / 10)
    return 2 * n**3 / statistics.median(times)

  def info(self) -> dict:
    memory = {}
    if self.gpu:
      peak = self.torch.cuda.max_memory_allocated()
      memory = {"device_peak_mb": peak / 2**20}
    return {
      "flops": self.flops,
      "compile_s": self.compile_s,
      "version": f"PyTorch {self.torch.__version__}"
      + (" + torch.compile" if self.workload.compiled else "")
      + (" + autocast(bfloat16)" if self.workload.autocast else ""),
      "precision": self.workload.precision,
      "reuse_fakes": self.workload.reuse_fakes,
      "device": self.device,
      **memory,
    }


def worker(args) -> None:
  """Serves commands on stdin, one JSON reply per line on stdout."""
  out = sys.stdout
  sys.stdout = sys.stderr  # Library chatter must not break the protocol.
  if args.worker == "jax":  # As the train command runs, before JAX starts.
    cpu_memory.use_low_memory_scheduler()
  impl = JaxWorker(args) if args.worker == "jax" else TorchWorker(args)
  # Peak memory from here on: training, not imports or compilation.
  impl.ready_rss, impl.peak_reset = _rss_mb(), _reset_peak()
  print(json.dumps({"ready": True}), file=out, flush=True)
  for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["op"] == "time":
      k = cmd["k"]
      reply = {"img_s": _timed(impl, k, cmd["seconds"], args.batch)}
    elif cmd["op"] == "matmul":
      reply = {"flop_s": impl.matmul()}
    elif cmd["op"] == "info":
      reply = {
        **impl.info(),
        "peak_rss_mb": _peak_mb(),
        "python": platform.python_version(),
        "base_rss_mb": impl.base_rss,
        "ready_rss_mb": impl.ready_rss,
        "peak_reset": impl.peak_reset,
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""),
      }
    else:
      break
    print(json.dumps(reply), file=out, flush=True)


class Worker:
  """A worker process; it starts at once, and :meth:`ready` waits for it,
  so that several workers compile at the same time."""

  def __init__(
    self,
    name: str,
    kind: str,
    argv: list[str],
    malloc: str = "glibc",
    python: str = sys.executable,
  ):
    self.name, self.kind, self.malloc = name, kind, malloc
    env = {**os.environ, **_malloc_env(malloc)}
    # Several processes share one GPU: JAX must not take 75% of it up front.
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    self.proc = subprocess.Popen(
      [python, os.path.abspath(__file__), *argv, "--worker", kind],
      stdin=subprocess.PIPE,
      stdout=subprocess.PIPE,
      text=True,
      env=env,
    )

  def ready(self) -> None:
    self._read()

  def _read(self) -> dict:
    line = self.proc.stdout.readline()
    if not line:
      sys.exit(f"error: the {self.name} worker exited (see above)")
    return json.loads(line)

  def ask(self, **cmd) -> dict:
    self.proc.stdin.write(json.dumps(cmd) + "\n")
    self.proc.stdin.flush()
    return self._read()

  def close(self) -> None:
    self.proc.stdin.close()
    self.proc.wait()


def _csv(kind):
  return lambda text: [kind(item) for item in text.split(",")]


# Options that take a comma-separated list, each value timed in a worker of
# its own: the allowed values (the first is the default) and a note.
LIST_OPTIONS = {
  "--conv-impl": (("auto", "winograd", "matmul", "xla"), ""),
  "--precision": (("float32", "bfloat16"), ""),
  "--reuse-fakes": (
    ("no", "yes"),
    (
      " (G updated on the D update's fakes, gan_jax's reuse_fakes and the "
      "PyTorch DCGAN example's step, or on fresh noise's, gan_jax's "
      "default; PyTorch does the same as gan_jax in every row)"
    ),
  ),
  "--torch-precision": (
    ("float32", "bfloat16"),
    " (bfloat16: autocast, PyTorch's mixed precision)",
  ),
  "--malloc": (
    ("glibc", "glibc-small-pages", "jemalloc", "tcmalloc"),
    (
      " (the C allocator of both frameworks' workers; glibc: as the train "
      "command runs it, asking for huge pages where the kernel gives them on "
      "request; glibc-small-pages: glibc's defaults)"
    ),
  ),
}
# --malloc: the library to preload, and the Debian package that has it.
MALLOC_LIBRARIES = {
  "jemalloc": ("jemalloc", "libjemalloc2"),
  "tcmalloc": ("tcmalloc_minimal", "libtcmalloc-minimal4"),
}


@functools.cache  # find_library runs ldconfig; every worker asks again.
def _malloc_env(name: str) -> dict[str, str]:
  """The environment that gives a worker the allocator ``name``."""
  if name.startswith("glibc"):
    # As the train command restarts itself (cpu_memory), or with the
    # tunable off.
    on = cpu_memory.huge_page_heap_env(
      os.environ,
      cpu_memory.transparent_huge_pages(),
      cpu_memory.glibc_version(),
    )
    if name == "glibc":
      return {} if on is None else {"GLIBC_TUNABLES": on["GLIBC_TUNABLES"]}
    off = f"{cpu_memory.HUGE_PAGES_TUNABLE}=0"
    tunables = os.environ.get("GLIBC_TUNABLES")
    return {"GLIBC_TUNABLES": cpu_memory.with_tunable(tunables, off)}
  library, package = MALLOC_LIBRARIES[name]
  found = ctypes.util.find_library(library)
  if not found:
    sys.exit(
      f"error: --malloc {name}: lib{library} is not installed; "
      f"apt-get install {package}, or leave {name} out"
    )
  return {"LD_PRELOAD": found}


def _either(allowed) -> str:
  return ", ".join(allowed[:-1]) + f" or {allowed[-1]}"


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument(
    "--workload", choices=sorted(WORKLOADS), default="dcgan32"
  )
  parser.add_argument("--batch", type=int, default=64)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--seconds", type=float, default=10.0)
  parser.add_argument(
    "--steps-per-call",
    type=_csv(int),
    default=[1],
    help="gan_jax steps per host call to time, e.g. 1,4",
  )
  for flag, (allowed, note) in LIST_OPTIONS.items():
    parser.add_argument(
      flag,
      type=_csv(str),
      default=[allowed[0]],
      help=f"{_either(allowed)}{note}; several, comma-separated, time each",
    )
  parser.add_argument("--torch-compile", action="store_true")
  parser.add_argument("--torch-device", default="cpu")
  parser.add_argument("--no-torch", action="store_true")
  parser.add_argument(
    "--torch-python",
    default=sys.executable,
    help="the Python that runs the PyTorch workers (default: this one); "
    "it needs torch and this project installed. PyTorch's CPU wheel may "
    "exist only for another Python version than the JAX under test",
  )
  parser.add_argument("--json", help="append the results to this file")
  parser.add_argument(
    "--worker", choices=["jax", "torch"], help=argparse.SUPPRESS
  )
  args = parser.parse_args()
  for flag, (allowed, _) in LIST_OPTIONS.items():
    for value in getattr(args, flag[2:].replace("-", "_")):
      if value not in allowed:
        parser.error(f"{flag}: {value!r} is not {_either(allowed)}")
  if args.worker:
    args.conv_impl, args.precision = args.conv_impl[0], args.precision[0]
    args.reuse_fakes = args.reuse_fakes[0] == "yes"
    args.torch_precision = args.torch_precision[0]
    return worker(args)

  for malloc in args.malloc:
    _malloc_env(malloc)  # Missing libraries stop the run before it starts.
  torch_python = shutil.which(args.torch_python)
  if not (args.no_torch or torch_python):
    parser.error(
      f"--torch-python: {args.torch_python} is not an executable file; "
      "give the path of a Python that has torch installed"
    )
  argv = sys.argv[1:]
  workers = {}

  def allocator(malloc):
    return "" if malloc == "glibc" else f", {malloc}"

  def fakes(reuse: bool) -> str:
    return ", reuse fakes" if reuse else ""

  for impl in args.conv_impl:
    for precision in args.precision:
      for reuse in args.reuse_fakes:
        for malloc in args.malloc:
          name = (
            f"gan_jax ({impl}, {precision}{fakes(reuse == 'yes')}"
            f"{allocator(malloc)})"
          )
          workers[name] = Worker(
            name,
            "jax",
            argv
            + ["--conv-impl", impl, "--precision", precision]
            + ["--reuse-fakes", reuse],
            malloc,
          )
  jax_names = list(workers)
  # PyTorch does the same work as each gan_jax row: its step with fakes
  # reused, or with a fake batch of fresh noise for the G update.
  torch_runs = (
    []
    if args.no_torch
    else [
      (
        f"torch ({precision}{fakes(reuse == 'yes')}{allocator(malloc)})",
        precision,
        reuse,
        malloc,
      )
      for precision in args.torch_precision
      for reuse in args.reuse_fakes
      for malloc in args.malloc
    ]
  )
  torch_names = [run[0] for run in torch_runs]
  for name, precision, reuse, malloc in torch_runs:
    workers[name] = Worker(
      name,
      "torch",
      argv + ["--torch-precision", precision, "--reuse-fakes", reuse],
      malloc,
      torch_python,
    )
  for w in workers.values():
    w.ready()
  ceiling = {}
  for w in workers.values():
    for dtype, rate in w.ask(op="matmul")["flop_s"].items():
      ceiling[dtype] = max(ceiling.get(dtype, 0), rate)
  runs = [(name, k) for name in jax_names for k in args.steps_per_call]
  runs += [(name, 1) for name in torch_names]
  rates = {run: [] for run in runs}
  for _ in range(args.repeats):
    for name, k in runs:
      reply = workers[name].ask(op="time", k=k, seconds=args.seconds)
      rates[name, k].append(reply["img_s"])
  for w in workers.values():  # Again after, in case the machine drifts.
    for dtype, rate in w.ask(op="matmul")["flop_s"].items():
      ceiling[dtype] = max(ceiling[dtype], rate)
  info = {name: w.ask(op="info") for name, w in workers.items()}
  for w in workers.values():
    w.close()

  gpu = "device_peak_mb" in info[jax_names[0]]
  low = {i["precision"] for i in info.values()} != {"float32"}
  # On a GPU float32 convolutions run on TF32 in both frameworks (their
  # defaults), so float32 rows compare with the TF32 ceiling as well.
  shown = ["float32", "bfloat16"] if low else ["float32"]
  if gpu:
    shown = ["float32", "tf32", "bfloat16"]
  cpu = cpu_name()
  print(
    f"{args.workload}, batch {args.batch}, "
    f"{cpu}, {os.cpu_count()} CPUs, "
    f"{info[jax_names[0]]['device']}; "
    + ", ".join(
      sorted({f"{i['version']} (Python {i['python']})" for i in info.values()})
    )
  )
  size = "8192²" if gpu else "2048²"
  print(
    f"matmul ceilings ({size}, random data): "
    + ", ".join(f"{d} {c / 1e12:.3g} TFLOP/s" for d, c in ceiling.items())
  )
  memory = "peak device memory (MB)" if gpu else "peak RSS (MB)"
  header = (
    "| implementation | steps/call | img/s, median (range) | ratio "
    "| GFLOP/img "
    "| TFLOP/s | "
    + " | ".join(f"of {d} ceiling" for d in shown)
    + f" | {memory} | compile (s) |"
  )
  print(header)
  print("|" + " --- |" * (header.count("|") - 1))
  torch_rates = {}  # By precision and reuse_fakes: the fastest allocator's.
  for name in torch_names:
    run = info[name]["precision"], info[name]["reuse_fakes"]
    rate = statistics.median(rates[name, 1])
    torch_rates[run] = max(rate, torch_rates.get(run, 0))

  def torch_rate_for(i):
    """PyTorch's rate for the same work as the worker whose info is ``i``
    (fakes reused or not), in its precision where timed, else in the
    first."""
    reuse = i["reuse_fakes"]
    return torch_rates.get(
      (i["precision"], reuse),
      torch_rates.get((args.torch_precision[0], reuse)),
    )

  rows = []
  for (name, k), values in rates.items():
    rate, i = statistics.median(values), info[name]
    torch_rate = torch_rate_for(i)
    flop_s = rate * i["flops"]
    # Winograd rows: executed / direct-convolution FLOPs (effective rate).
    direct = i.get("direct_flops", i["flops"])
    flops_cell = f"{i['flops'] / 1e9:.2f}"
    flop_s_cell = f"{flop_s / 1e12:.3g}"
    share_cells = [f"{flop_s / ceiling[d]:.1%}" for d in shown]
    if direct != i["flops"]:
      flops_cell += f" / {direct / 1e9:.2f}"
      flop_s_cell += f" / {rate * direct / 1e12:.3g}"
      share_cells = [
        f"{cell} / {rate * direct / ceiling[d]:.1%}"
        for cell, d in zip(share_cells, shown)
      ]
    if gpu:
      # gan_jax: what XLA allocates for one step (its device peak also
      # counts compile-time autotuning); PyTorch: its allocator's peak.
      peak = i.get("planned_mb", i["device_peak_mb"])
    else:
      peak = i["peak_rss_mb"]
    label = (
      name
      if name in jax_names
      else i["version"]
      + fakes(i["reuse_fakes"])
      + allocator(workers[name].malloc)
    )
    ratio = rate / torch_rate if torch_rate else None
    rows.append(
      {
        "workload": args.workload,
        "batch": args.batch,
        "cpu": cpu,
        "implementation": label,
        "python": i["python"],
        "steps_per_call": k,
        "img_s": rate,
        "img_s_repeats": values,
        "ratio": ratio,
        "flops_per_img": i["flops"],
        "direct_flops_per_img": direct,
        "flop_s": flop_s,
        "ceilings": ceiling,
        "peak_mb": peak,
        **{
          f: i[f]
          for f in i
          if f.endswith("_mb") or f in ("compile_s", "glibc_tunables")
        },
      }
    )
    print(
      f"| {label} | {k} | {rate:.1f} ({min(values):.1f}–{max(values):.1f}) | "
      + (f"{ratio:.2f}" if ratio else "")
      + f" | {flops_cell} | {flop_s_cell} | "
      + " | ".join(share_cells)
      + f" | {peak:,.0f} | {i['compile_s']:.1f} |"
    )
  if args.json:
    with open(args.json, "a") as f:
      f.writelines(json.dumps(row) + "\n" for row in rows)
  jax_rate = statistics.median(rates[jax_names[0], args.steps_per_call[0]])
  torch_rate = torch_rate_for(info[jax_names[0]])
  last = f"{args.workload} gan_jax={jax_rate:.1f}"
  if torch_rate:
    last += f" torch={torch_rate:.1f} ratio={jax_rate / torch_rate:.2f}"
  print(last)


if __name__ == "__main__":
  main()
