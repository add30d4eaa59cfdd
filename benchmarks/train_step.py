"""The GAN train step of gan_jax against plain PyTorch, side by side.

    python benchmarks/train_step.py --workload dcgan32 [--batch 64]
        [--repeats 5] [--seconds 10] [--steps-per-call 1,4]
        [--conv-impl auto] [--precision float32] [--torch-compile]
        [--torch-device cpu] [--no-torch]

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

- img/s: images per second of training, the median over repeats;
- FLOP/img: FLOPs per image of one step, gan_jax's from XLA's cost analysis
  of the compiled step, PyTorch's from ``torch.utils.flop_counter``;
- GFLOP/s and its fraction of the matmul ceiling: a 2048×2048 float32
  matrix multiplication timed in the same run (the faster of JAX's and
  PyTorch's);
- peak RSS: the worker's peak resident memory while it trains (on Linux the
  peak is reset once the worker has compiled and warmed up, so it is the
  training's, not the compiler's), and that peak less the worker's RSS
  after its imports;
- compile: seconds from the start of the first step to the end of the
  warm-up (PyTorch eager: two warm-up steps and the FLOP count).

The last line is ``<workload> gan_jax=<img/s> torch=<img/s> ratio=<r>``.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

WORKLOADS = {
  "dcgan32": {"resolution": 32, "width": 128, "latent_dim": 128},
  "dcgan64": {"resolution": 64, "width": 128, "latent_dim": 128},
}


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


def _timed(run_steps, seconds: float, batch: int) -> float:
  """img/s of whole calls of ``run_steps`` for at least ``seconds``."""
  images, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    images += run_steps() * batch
  return images / (time.perf_counter() - start)


class JaxWorker:
  def __init__(self, args):
    import jax
    import numpy as np

    from gan_jax import config as config_lib
    from gan_jax import keys, losses, models, optimizers, parallel, step
    from gan_jax import state as state_lib
    from gan_jax.multi_step import steps_per_call

    self.jax, self.base_rss = jax, _rss_mb()
    w = WORKLOADS[args.workload]
    res, b = w["resolution"], args.batch
    model_cfg = config_lib.ModelConfig(
      arch="dcgan",
      width=w["width"],
      latent_dim=w["latent_dim"],
      conv_impl=args.conv_impl,
      precision=args.precision,
    )
    strategy = parallel.make("single", 0, b)
    g, d = models.build(model_cfg, (res, res, 3))
    opt = optimizers.build(config_lib.OptimizerConfig())
    train_step = step.make_train_step(
      g,
      d,
      losses.LOSSES["non_saturating"],
      opt,
      opt,
      latent_dim=w["latent_dim"],
    )
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
    self.fns, self.batches = {}, {}
    for k in args.steps_per_call:
      fn = train_step if k == 1 else steps_per_call(train_step, k)
      self.fns[k] = strategy.compile(fn)
      self.batches[k] = strategy.put_batch({"x": np.stack([real] * k)})
    self.impl = models.conv_impl(args.conv_impl)
    self.step_count = 0
    one = self.jax.jit(train_step).lower(
      state, {"x": real[None]}, self.train_root
    )
    cost = one.compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    self.flops = cost["flops"] / b
    start = time.perf_counter()  # The timed functions' compile and warm-up.
    for k in args.steps_per_call:
      self.run(k)
    self.compile_s = time.perf_counter() - start

  def run(self, k: int) -> int:
    key = (
      self.train_root
      if k > 1
      else self.jax.random.fold_in(self.train_root, self.step_count)
    )
    self.state, metrics = self.fns[k](self.state, self.batches[k], key)
    self.jax.block_until_ready(metrics)
    self.step_count += k
    return k

  def matmul(self, n: int = 2048) -> float:
    jnp = self.jax.numpy
    a = jnp.ones((n, n), jnp.float32)
    f = self.jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    times = []
    for _ in range(10):
      start = time.perf_counter()
      f(a).block_until_ready()
      times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times)

  def info(self) -> dict:
    return {
      "flops": self.flops,
      "compile_s": self.compile_s,
      "conv_impl": self.impl,
      "version": f"JAX {self.jax.__version__}",
      "device": str(self.jax.devices()[0].device_kind),
    }


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
    )
    res = w["resolution"]
    torch.manual_seed(0)
    self.real = torch.rand(args.batch, 3, res, res, device=self.device) * 2 - 1
    start = time.perf_counter()
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
      torch_dcgan.Workload(
        w["resolution"], w["latent_dim"], w["width"], args.batch, "cpu", False
      ).step(self.real.cpu())
    self.flops = counter.get_total_flops() / args.batch
    for _ in range(2):
      self.run(1)
    self.compile_s = time.perf_counter() - start

  def run(self, k: int) -> int:
    for _ in range(k):
      losses = self.workload.step(self.real)
    if self.device != "cpu":
      self.torch.cuda.synchronize()
    losses[0].item()
    return k

  def matmul(self, n: int = 2048) -> float:
    a = self.torch.ones(n, n, device=self.device)
    times = []
    for _ in range(11):
      start = time.perf_counter()
      (a @ a).sum().item()
      times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times[1:])

  def info(self) -> dict:
    return {
      "flops": self.flops,
      "compile_s": self.compile_s,
      "version": f"PyTorch {self.torch.__version__}"
      + (
        " + torch.compile"
        if self.workload._step != self.workload._eager_step
        else ""
      ),
      "device": self.device,
    }


def worker(args) -> None:
  """Serves commands on stdin, one JSON reply per line on stdout."""
  out = sys.stdout
  sys.stdout = sys.stderr  # Library chatter must not break the protocol.
  impl = JaxWorker(args) if args.worker == "jax" else TorchWorker(args)
  # Peak memory from here on: training, not imports or compilation.
  impl.ready_rss, impl.peak_reset = _rss_mb(), _reset_peak()
  print(json.dumps({"ready": True}), file=out, flush=True)
  for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["op"] == "time":
      k = cmd["k"]
      reply = {
        "img_s": _timed(lambda: impl.run(k), cmd["seconds"], args.batch)  # noqa: B023
      }
    elif cmd["op"] == "matmul":
      reply = {"flop_s": impl.matmul()}
    elif cmd["op"] == "info":
      reply = {
        **impl.info(),
        "peak_rss_mb": _peak_mb(),
        "base_rss_mb": impl.base_rss,
        "ready_rss_mb": impl.ready_rss,
        "peak_reset": impl.peak_reset,
      }
    else:
      break
    print(json.dumps(reply), file=out, flush=True)


class Worker:
  def __init__(self, kind: str, argv: list[str]):
    self.kind = kind
    self.proc = subprocess.Popen(
      [sys.executable, os.path.abspath(__file__), *argv, "--worker", kind],
      stdin=subprocess.PIPE,
      stdout=subprocess.PIPE,
      text=True,
    )
    self._read()

  def _read(self) -> dict:
    line = self.proc.stdout.readline()
    if not line:
      sys.exit(f"error: the {self.kind} worker exited (see above)")
    return json.loads(line)

  def ask(self, **cmd) -> dict:
    self.proc.stdin.write(json.dumps(cmd) + "\n")
    self.proc.stdin.flush()
    return self._read()

  def close(self) -> None:
    self.proc.stdin.close()
    self.proc.wait()


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
    type=lambda s: [int(k) for k in s.split(",")],
    default=[1],
    help="gan_jax steps per host call to time, e.g. 1,4",
  )
  parser.add_argument(
    "--conv-impl", default="auto", choices=["auto", "matmul", "xla"]
  )
  parser.add_argument(
    "--precision", default="float32", choices=["float32", "bfloat16"]
  )
  parser.add_argument("--torch-compile", action="store_true")
  parser.add_argument("--torch-device", default="cpu")
  parser.add_argument("--no-torch", action="store_true")
  parser.add_argument(
    "--worker", choices=["jax", "torch"], help=argparse.SUPPRESS
  )
  args = parser.parse_args()
  if args.worker:
    return worker(args)

  argv = sys.argv[1:]
  workers = {"gan_jax": Worker("jax", argv)}
  if not args.no_torch:
    workers["torch"] = Worker("torch", argv)
  ceiling = {name: w.ask(op="matmul")["flop_s"] for name, w in workers.items()}
  rates = {(name, k): [] for name in workers for k in args.steps_per_call}
  for _ in range(args.repeats):
    for k in args.steps_per_call:
      rates["gan_jax", k].append(
        workers["gan_jax"].ask(op="time", k=k, seconds=args.seconds)["img_s"]
      )
    if "torch" in workers:
      rates["torch", 1].append(
        workers["torch"].ask(op="time", k=1, seconds=args.seconds)["img_s"]
      )
  for name, w in workers.items():  # Again after, in case the machine drifts.
    ceiling[name] = max(ceiling[name], w.ask(op="matmul")["flop_s"])
  info = {name: w.ask(op="info") for name, w in workers.items()}
  for w in workers.values():
    w.close()

  peak = max(ceiling.values())
  print(
    f"{args.workload}, batch {args.batch}, {platform.processor() or platform.machine()}, "
    f"{os.cpu_count()} CPUs, {info['gan_jax']['device']}; "
    + ", ".join(i["version"] for i in info.values())
  )
  print(
    "matmul ceiling (2048² float32): "
    + ", ".join(f"{n} {c / 1e9:.1f} GFLOP/s" for n, c in ceiling.items())
  )
  header = (
    "| implementation | steps/call | img/s (median) | ratio | GFLOP/img "
    "| GFLOP/s | of ceiling | peak RSS (MB) | RSS growth (MB) | compile (s) |"
  )
  print(header)
  print("|" + " --- |" * (header.count("|") - 1))
  torch_rate = (
    statistics.median(rates["torch", 1]) if "torch" in workers else None
  )
  for (name, k), values in rates.items():
    if not values:
      continue
    rate, i = statistics.median(values), info[name]
    label = (
      name
      if name == "torch"
      else f"gan_jax ({i['conv_impl']}, {args.precision})"
    )
    flop_s = rate * i["flops"]
    ratio = f"{rate / torch_rate:.2f}" if torch_rate else ""
    print(
      f"| {label} | {k} | {rate:.1f} | {ratio} | {i['flops'] / 1e9:.2f} "
      f"| {flop_s / 1e9:.1f} | {flop_s / peak:.0%} | {i['peak_rss_mb']:.0f} "
      f"| {i['peak_rss_mb'] - i['base_rss_mb']:.0f} | {i['compile_s']:.1f} |"
    )
  jax_rate = statistics.median(rates["gan_jax", args.steps_per_call[0]])
  last = f"{args.workload} gan_jax={jax_rate:.1f}"
  if torch_rate:
    last += f" torch={torch_rate:.1f} ratio={jax_rate / torch_rate:.2f}"
  print(last)


if __name__ == "__main__":
  main()
