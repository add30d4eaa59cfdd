"""Command line: train an experiment.

    python -m gan_jax.train --config experiments/dcgan_digits.py \\
        --workdir runs/dcgan_digits [key=value ...]

Rerunning the same command continues from the latest checkpoint. For a
multi-process run, start the same command in every process with
``--distributed`` (TPU pod slices, SLURM, Open MPI) or with ``--coordinator
HOST:PORT --num-processes N --process-id I``. Exit codes:
0 done, 2 bad input (config, data, files; nothing written), 130/143 stopped
by Ctrl-C/SIGTERM after writing a checkpoint; a second Ctrl-C stops at once
with 130, keeping the checkpoints written before.
"""

import argparse
import sys

from gan_jax import cpu_memory
from gan_jax.errors import (
  CommandParser,
  UserError,
  path_argument,
  quiet_leftovers,
  report,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
  parser = CommandParser(
    prog="python -m gan_jax.train",
    description="Train a GAN experiment; rerun to resume.",
    epilog="Overrides set config fields by dotted name, e.g. steps=2000 "
    "model.width=32 g_optimizer.lr=1e-4 parallel=mesh",
  )
  parser.add_argument(
    "--config",
    required=True,
    type=path_argument,
    help="experiment file with get_config(), e.g. experiments/dcgan_digits.py",
  )
  parser.add_argument(
    "--workdir",
    required=True,
    type=path_argument,
    help="directory for checkpoints, logs and samples",
  )
  parser.add_argument(
    "--no-progress", action="store_true", help="do not draw the progress bar"
  )
  group = parser.add_argument_group(
    "multi-process runs", "see gan_jax/distributed.py and the README"
  )
  group.add_argument(
    "--distributed",
    action="store_true",
    help="join JAX's distributed runtime, detected on TPU, SLURM, Open MPI",
  )
  group.add_argument(
    "--coordinator", help="HOST:PORT of process 0 ($JAX_COORDINATOR_ADDRESS)"
  )
  group.add_argument(
    "--num-processes", type=int, help="process count ($JAX_NUM_PROCESSES)"
  )
  group.add_argument(
    "--process-id", type=int, help="this process, 0.. ($JAX_PROCESS_ID)"
  )
  parser.add_argument(
    "overrides", nargs="*", metavar="key=value", help="config overrides"
  )
  return parser.parse_intermixed_args(argv)


def interrupted(workdir) -> str:
  """What a Ctrl-C outside the train loop (or a second one in it) says."""
  return (
    f"interrupted: stopped without a new checkpoint; rerun to continue "
    f"from the latest one in {workdir}/checkpoints"
  )


def report_interrupted(workdir) -> int:
  """Prints :func:`interrupted` alone (see ``quiet_leftovers``); returns
  the exit code of a Ctrl-C, 130."""
  print(interrupted(workdir), file=sys.stderr)
  quiet_leftovers()
  return 130


def main(argv: list[str] | None = None) -> int:
  args = parse_args(argv)
  cpu_memory.use_low_memory_scheduler()  # Before JAX starts its backend.
  try:
    # Imported late so that --help answers without loading JAX.
    from gan_jax import config, distributed, run  # pylint: disable=g-import-not-at-top

    joined = distributed.initialize(
      args.distributed, args.coordinator, args.num_processes, args.process_id
    )

    def read():  # load validates the config too.
      return config.load(args.config, args.overrides)

    # Joined, every process checks its config; all stop if one must.
    cfg = distributed.agreed_config(read) if joined else read()
    result = run.train(cfg, args.workdir, progress=not args.no_progress)
  except UserError as e:
    return report(e)
  except KeyboardInterrupt:
    return report_interrupted(args.workdir)
  if result.stopped_by is not None:
    return 128 + result.stopped_by
  return 0


if __name__ == "__main__":
  cpu_memory.restart_with_huge_page_heap()  # Faster steps on CPU.
  sys.exit(main())
