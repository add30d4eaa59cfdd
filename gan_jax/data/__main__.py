"""Command line: prepare datasets for training.

    python -m gan_jax.data prepare NAME [--data-dir D] [--from DIR]
    python -m gan_jax.data prepare-folder DIR --name NAME [--size S] [--channels C]

Bad input prints one ``error:`` line and exits with 2, writing nothing.
"""

import sys
from pathlib import Path

from gan_jax.errors import CommandParser, UserError


def parse_args(argv):
  parser = CommandParser(
    prog="python -m gan_jax.data", description="Prepare datasets (TFDS)."
  )
  commands = parser.add_subparsers(dest="command", required=True)
  one = commands.add_parser(
    "prepare",
    help="a TFDS dataset by name: digits and fashion_mnist offline, others "
    "with TFDS's downloader",
  )
  one.add_argument("name")
  one.add_argument(
    "--from",
    dest="source_dir",
    type=Path,
    help="fashion_mnist: the folder of its IDX files (default: Debian's)",
  )
  folder = commands.add_parser(
    "prepare-folder", help="a folder of PNG/JPEG images, classes by sub-folder"
  )
  folder.add_argument("folder", type=Path)
  folder.add_argument("--name", required=True, help="the dataset's data.name")
  folder.add_argument(
    "--size", type=int, default=0, help="centre-crop and resize to SIZE×SIZE"
  )
  folder.add_argument(
    "--channels", type=int, default=0, choices=(0, 1, 3), help="convert to"
  )
  for sub in (one, folder):
    sub.add_argument(
      "--data-dir",
      default="",
      help="TFDS data dir (default: $TFDS_DATA_DIR or ~/tensorflow_datasets)",
    )
  return parser.parse_args(argv)


def main(argv=None) -> int:
  args = parse_args(argv)
  try:
    from gan_jax.data import prepare, tfds_source  # pylint: disable=g-import-not-at-top

    data_dir = tfds_source.data_dir(args.data_dir)
    reads_idx = args.command == "prepare" and args.name == "fashion_mnist"
    if getattr(args, "source_dir", None) and not reads_idx:
      raise UserError(
        f"--from is fashion_mnist's (the folder of its IDX files), and "
        f"{args.name} reads none; drop --from"
      )
    if args.command == "prepare":
      builder = prepare.prepare(args.name, data_dir, args.source_dir)
    else:
      builder = prepare.prepare_folder(
        args.folder, args.name, data_dir, args.size, args.channels
      )
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return e.exit_code
  splits = ", ".join(
    f"{k} {v.num_examples}" for k, v in sorted(builder.info.splits.items())
  )
  print(f"{builder.name} ready in {builder.data_path} ({splits})")
  return 0


if __name__ == "__main__":
  sys.exit(main())
