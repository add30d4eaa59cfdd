"""One experiment over several seeds, and the mean and spread of its scores.

    python -m gan_jax.sweep --config EXPERIMENT.py --workdir DIR --seeds 0-9 [key=value ...]

Seed ``s`` trains in ``DIR/seed_s`` exactly as ``python -m gan_jax.train``
would with ``seed=s`` (rerunning continues unfinished seeds and skips
finished ones). The last evaluation of each seed (``eval/*`` in its
``metrics.jsonl``) goes into ``DIR/summary.json``, and a Markdown table of
each metric's mean, standard deviation, minimum and maximum over the seeds
is printed last. A bad config, or a seed's folder that holds a run of
another config, stops the sweep before any seed trains.
"""

import json
import sys
from pathlib import Path

import numpy as np

from gan_jax import cpu_memory
from gan_jax.errors import CommandParser, UserError, path_argument, report
from gan_jax.train import report_interrupted


def parse_seeds(text: str) -> list[int]:
  """``"0-9"``, ``"3"`` or ``"0,2,5-7"`` → a sorted list of distinct seeds."""
  seeds = set()
  for part in text.split(","):
    if not part.strip():
      raise UserError(
        f"--seeds {text!r} has an empty item; give e.g. --seeds 0-9 or 0,2,5-7"
      )
    first, sep, last = part.partition("-")
    try:
      lo, hi = int(first), int(last) if sep else int(first)
    except ValueError:
      raise UserError(
        f"--seeds {text!r}: {part!r} is not a seed or a range like 0-9"
      ) from None
    if lo > hi or lo < 0:
      raise UserError(f"--seeds {text!r}: {part!r} is not an ascending range")
    seeds.update(range(lo, hi + 1))
  if not seeds:
    raise UserError("--seeds names no seed; give e.g. --seeds 0-9")
  return sorted(seeds)


def final_scores(workdir: Path) -> dict[str, float]:
  """The last evaluation logged in ``workdir/metrics.jsonl``."""
  last = {}
  path = workdir / "metrics.jsonl"
  if path.exists():
    for line in path.read_text().splitlines():
      record = json.loads(line)
      scores = {k[5:]: v for k, v in record.items() if k.startswith("eval/")}
      if scores:
        last = {"step": record["step"], **scores}
  return last


def summarize(per_seed: dict[int, dict[str, float]]) -> dict[str, dict]:
  """Mean, sample standard deviation, min and max of each score."""
  names = sorted({k for s in per_seed.values() for k in s if k != "step"})
  out = {}
  for name in names:
    values = np.array([s[name] for s in per_seed.values() if name in s])
    out[name] = {  # NaN and infinity (a KL with an empty mode) pass through.
      "mean": float(np.mean(values)),
      "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
      "min": float(np.min(values)),
      "max": float(np.max(values)),
      "seeds": len(values),
    }
  return out


def table(summary: dict[str, dict]) -> str:
  lines = [
    "| metric | mean | std | min | max | seeds |",
    "| --- | --- | --- | --- | --- | --- |",
  ]
  for name, s in summary.items():
    lines.append(
      f"| {name} | {s['mean']:.4g} | {s['std']:.3g} | {s['min']:.4g} "
      f"| {s['max']:.4g} | {s['seeds']} |"
    )
  return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
  parser = CommandParser(
    prog="python -m gan_jax.sweep", description=__doc__.split("\n\n")[0]
  )
  parser.add_argument(
    "--config", required=True, type=path_argument, help="experiment file"
  )
  parser.add_argument(
    "--workdir", required=True, type=path_argument, help="one folder per seed"
  )
  parser.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,3,5-7")
  parser.add_argument("--no-progress", action="store_true")
  parser.add_argument("overrides", nargs="*", metavar="key=value")
  args = parser.parse_intermixed_args(argv)
  cpu_memory.use_low_memory_scheduler()  # Before JAX starts its backend.
  try:
    from gan_jax import config, run  # pylint: disable=g-import-not-at-top

    seeds = parse_seeds(args.seeds)
    for override in args.overrides:
      if override.partition("=")[0].strip() == "seed":
        raise UserError(
          f"{override!r}: a sweep sets each run's seed from --seeds; drop it "
          f"and give --seeds {override.partition('=')[2].strip() or 'N'}"
        )
    base = config.load(args.config, args.overrides)
    workdir = seed_dir = Path(args.workdir)
    for seed in seeds:  # Every seed's config and folder, before any trains.
      cfg = config.validate(config.apply_overrides(base, [f"seed={seed}"]))
      run.check_workdir(workdir / f"seed_{seed}", cfg)
    per_seed = {}
    for seed in seeds:
      cfg = config.apply_overrides(base, [f"seed={seed}"])
      print(f"seed {seed}: {workdir / f'seed_{seed}'}", file=sys.stderr)
      seed_dir = workdir / f"seed_{seed}"
      result = run.train(cfg, seed_dir, progress=not args.no_progress)
      if result.stopped_by is not None:  # SIGTERM or Ctrl-C: no more seeds.
        print(
          f"sweep stopped at seed {seed}; rerun the same command to continue "
          "it, skipping the finished seeds",
          file=sys.stderr,
        )
        return 128 + result.stopped_by
      per_seed[seed] = final_scores(seed_dir)
  except UserError as e:
    return report(e)
  except KeyboardInterrupt:
    return report_interrupted(seed_dir)
  summary = summarize(per_seed)
  (workdir / "summary.json").write_text(
    json.dumps({"seeds": per_seed, "summary": summary}, indent=1) + "\n"
  )
  print(table(summary))
  return 0


if __name__ == "__main__":
  cpu_memory.restart_with_huge_page_heap()  # Faster steps on CPU.
  sys.exit(main())
