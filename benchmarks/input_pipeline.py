"""Does the input pipeline keep up with the train step?

    python benchmarks/input_pipeline.py [--data fashion_mnist] [--batch 64]
        [--threads 2] [--seconds 10] [--width 64] [--resolutions 32,64]
        [--in-memory no|yes] [--pipeline-only]

For 32×32 and 64×64 it measures, in turn and on the same CPU:

1. the pipeline alone: grain reading the TFDS ArrayRecord files, decoding
   PNGs, resizing with Pillow and batching, ``--threads`` reader threads,
   examples/s of ``Pipeline`` with nothing consuming but a loop (with
   ``--in-memory yes``: decoded once, then gathered by batch);
2. the train step alone: the DCGAN step of that resolution (``--width``) on a
   batch already on the device, examples/s it consumes;
3. both together: the runner's loop (pipeline feeding the step).

The pipeline keeps up when (1) exceeds (2) and (3) is close to (2). Prints
one ``resolution=R pipeline=.. step=.. together=..`` line per resolution.
"""

import argparse
import platform
import time

import jax

from gan_jax import config, keys, run


def _rate(fn, batch: int, seconds: float) -> float:
  fn()  # Warm up: compile, start threads, fill buffers.
  count, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    fn()
    count += 1
  return count * batch / (time.perf_counter() - start)


def measure(args, resolution: int) -> dict[str, float]:
  cfg = config.Config()
  cfg.data.name = args.data
  cfg.data.image_size = resolution
  cfg.data.threads = args.threads
  cfg.data.in_memory = args.in_memory
  cfg.batch_size = args.batch
  cfg.model.width = args.width
  cfg.parallel = "single"
  parts = run.assemble(cfg)
  strategy = parts.strategy
  step_fn = strategy.compile(parts.train_step)
  root = keys.copy(parts.state.rng)
  state = strategy.put_state(parts.state)

  host = run.pipeline(cfg, parts.source, put=lambda x: x)
  pipeline = _rate(lambda: next(host), args.batch, args.seconds)
  if args.pipeline_only:
    return {
      "pipeline": pipeline,
      "step": float("nan"),
      "together": float("nan"),
    }

  fixed = strategy.put_batch(next(host))

  def step_only():
    nonlocal state
    state, metrics = step_fn(state, fixed, keys.step_key(root, 0))
    jax.block_until_ready(metrics)

  step = _rate(step_only, args.batch, args.seconds)

  fed = run.pipeline(cfg, parts.source, put=strategy.put_batch)

  def together():
    nonlocal state
    state, metrics = step_fn(state, next(fed), keys.step_key(root, 0))
    jax.block_until_ready(metrics)

  both = _rate(together, args.batch, args.seconds)
  return {"pipeline": pipeline, "step": step, "together": both}


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--data", default="fashion_mnist")
  parser.add_argument("--batch", type=int, default=64)
  parser.add_argument("--threads", type=int, default=2)
  parser.add_argument("--seconds", type=float, default=10.0)
  parser.add_argument("--resolutions", default="32,64")
  parser.add_argument("--width", type=int, default=64)
  parser.add_argument("--in-memory", default="no", choices=("no", "yes"))
  parser.add_argument(
    "--pipeline-only", action="store_true", help="skip the step's rates"
  )
  args = parser.parse_args()
  print(
    f"# {platform.processor() or platform.machine()}, "
    f"{jax.devices()[0].platform}, jax {jax.__version__}, "
    f"batch {args.batch}, {args.threads} reader threads, "
    f"in memory: {args.in_memory}"
  )
  for resolution in map(int, args.resolutions.split(",")):
    r = measure(args, resolution)
    print(
      f"resolution={resolution} pipeline={r['pipeline']:.0f} "
      f"step={r['step']:.0f} together={r['together']:.0f} examples/s",
      flush=True,
    )


if __name__ == "__main__":
  main()
