"""Command line: prepare the Inception weights and evaluate.

    python -m gan_jax.evaluate prepare-inception [--pth FILE]
    python -m gan_jax.evaluate fid A.npz B.npz
    python -m gan_jax.evaluate images A.npz --data digits [key=value ...]
    python -m gan_jax.evaluate checkpoint --workdir D [--step N|best]
        [--config EXPERIMENT.py] [key=value ...]

``.npz`` files hold uint8 images ``(N, H, W, C)``, C = 1 or 3, as their only
array or under ``images``; a ``.npy`` of such images works too. ``images`` and ``checkpoint`` compute the metrics
of an eval config (``eval.metrics=fid,kid eval.features=inception ...``)
against the dataset's reference features, cached per dataset, feature space,
resize mode and count. ``checkpoint`` rebuilds the run on one device,
whatever it trained on, and also takes the settings a resumed run may change
(``data.dir=...`` where the run's data has moved). The last line printed is
``FID <value>`` whenever FID is among the metrics. Exit codes: 0 done, 2 bad
input.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from gan_jax import cache
from gan_jax.errors import (
  CommandParser,
  ConfigError,
  UserError,
  path_argument,
  reason,
  report,
)

SAVE = "save np.uint8 NHWC images with numpy.savez(FILE, images=...)"


def load_images(path: str) -> np.ndarray:
  """The uint8 ``(N, H, W, C)`` images of an ``.npz`` file, checked."""
  file = Path(path)
  if file.is_dir():
    raise UserError(f"{path} is a folder; pass an .npz of uint8 images")
  if not file.is_file():
    raise UserError(f"{path} does not exist; pass an .npz of uint8 images")
  with file.open("rb") as f:
    magic = f.read(6)
  # A zip's first entry, or its end (np.savez of no arrays), or .npy's.
  if not (magic[:4] in (b"PK\x03\x04", b"PK\x05\x06") or magic == b"\x93NUMPY"):
    what = "is empty" if not magic else "is neither an .npz nor an .npy file"
    raise UserError(f"{path} {what}; {SAVE}")
  try:  # The file opened here, so that it is closed when numpy fails.
    with file.open("rb") as f:
      loaded = np.load(f)
      if isinstance(loaded, np.ndarray):  # a .npy file
        images = loaded
      else:
        with loaded as z:
          names = list(z.files)
          if "images" not in names and len(names) != 1:
            raise UserError(
              f"{path} holds {names}; save the images alone or as 'images'"
            )
          images = z["images" if "images" in names else names[0]]
  except cache.UNREADABLE_NPZ as e:
    raise UserError(f"{path} cannot be read ({reason(e)}); {SAVE}") from None
  if (
    images.dtype != np.uint8
    or images.ndim != 4
    or images.shape[-1] not in (1, 3)
  ):
    raise UserError(
      f"{path}: expected uint8 images (N, H, W, 1 or 3), got "
      f"{images.dtype} {images.shape}; {SAVE}"
    )
  if len(images) < 2:
    raise UserError(
      f"{path} holds {len(images)} image(s); FID needs at least 2"
    )
  return images


def _fid_of_files(a: str, b: str, resize: str, batch_size: int) -> float:
  from gan_jax.metrics import frechet, inception_features  # pylint: disable=g-import-not-at-top

  images = [load_images(a), load_images(b)]
  extractor = inception_features.InceptionFeatures(
    batch_size=batch_size, resize_mode=resize
  )
  stats = []
  for x in images:
    s = frechet.FeatureStats.empty(2048)
    for part in extractor.batches([x]):
      s = s.update(part["pool3"])
    stats.append(s)
  return frechet.fid_from_stats(*stats)


def _eval_config(overrides: list[str], base=None):
  """``base`` (default: the defaults) with ``overrides`` of ``eval.*`` keys;
  with a run's saved config as ``base``, also the keys a resumed run may
  change (``data.dir``, ...: :data:`gan_jax.config.RESUMABLE_CHANGES`)."""
  from gan_jax import config  # pylint: disable=g-import-not-at-top

  cfg = base or config.Config()
  allowed = config.RESUMABLE_CHANGES if base else set()
  bad = [
    o
    for o in overrides
    if not o.startswith("eval.") and o.partition("=")[0].strip() not in allowed
  ]
  if bad:
    also = " and the settings a resumed run may change (data.dir, ...)"
    raise UserError(
      f"only eval.* keys{also if base else ''} can be set here, got {bad[0]!r}"
    )
  return config.validate(config.apply_overrides(cfg, overrides))


def _report(values: dict[str, float]) -> None:
  for k, v in values.items():
    print(f"{k} {v:.6g}")
  if "fid" in values:
    print(f"FID {values['fid']:.6f}")


def _images(args) -> dict[str, float]:
  from gan_jax import data  # pylint: disable=g-import-not-at-top
  from gan_jax.metrics.evaluator import Evaluator  # pylint: disable=g-import-not-at-top

  cfg = _eval_config(args.overrides)
  images = load_images(args.file)
  source = data.build(args.data, 0)  # A name: a DataConfig's defaults.
  if tuple(images.shape[1:]) != tuple(source.example_shape):
    print(
      f"note: images are {images.shape[1:]}, {args.data} is "
      f"{source.example_shape}",
      file=sys.stderr,
    )
  step = cfg.eval.batch_size
  batches = (  # float only a batch at a time
    images[i : i + step].astype(np.float32) / 127.5 - 1.0
    for i in range(0, len(images), step)
  )
  evaluator = Evaluator(cfg.eval, source, args.data, value_range=(-1.0, 1.0))
  return evaluator.prepare().evaluate_samples(batches)


def restore_run(workdir, step: str = "latest", experiment=None, overrides=()):
  """A training run's config (with ``overrides``), assembled parts, and the
  state of its checkpoint ``step`` (a number, ``latest`` or ``best``).

  ``experiment``: the run's experiment file, when it registers its own
  components. ``overrides``: ``eval.*`` and the keys a resumed run may
  change (``data.dir``, ...). The run is rebuilt on one device
  (``parallel=single``, whatever it trained with: checkpoints hold one copy
  of the state, and sampling needs no data parallelism), so a run trained on
  several devices or processes is evaluated on a machine with one. Returns
  ``(cfg, parts, state, step_number)``.
  """
  from gan_jax import config, run  # pylint: disable=g-import-not-at-top
  from gan_jax.checkpoint import Checkpointer  # pylint: disable=g-import-not-at-top

  if experiment:  # Its registered losses, models and sources.
    config.import_experiment(Path(experiment))
  workdir = Path(workdir)
  saved = workdir / "config.json"
  if not saved.is_file():
    raise UserError(
      f"{workdir} holds no run (no config.json); pass the "
      "--workdir of a training run"
    )
  try:
    saved_dict = json.loads(saved.read_text())
  except ValueError:  # Also UnicodeDecodeError.
    raise UserError(
      f"{saved} is not valid JSON; restore it (train wrote it from the "
      "run's config) or pass the --workdir of another run"
    ) from None
  try:
    base = config.from_dict(saved_dict)
  except ConfigError as e:
    raise ConfigError(
      f"{saved}: {e}; restore the file, or use the gan_jax version that "
      "made the run"
    ) from None
  try:
    cfg = _eval_config(list(overrides), base)
    cfg.parallel, cfg.num_devices = "single", 0
    parts = run.assemble(cfg)
  except ConfigError as e:
    if experiment or "is not registered" not in str(e):
      raise
    raise ConfigError(
      f"{e}; if the run's experiment file registers it, pass that file "
      "with --config"
    ) from None
  folder = workdir / ("best" if step == "best" else "checkpoints")
  if not folder.is_dir():
    raise UserError(
      f"{folder} does not exist; this run kept no such checkpoints"
    )
  checkpoints = Checkpointer(folder, keep=1000, create=False)
  try:
    number = (
      checkpoints.latest_step() if step in ("latest", "best") else int(step)
    )
    if number is None or not checkpoints.path(number).exists():
      saved = ", ".join(map(str, checkpoints.steps()))
      raise UserError(
        f"no checkpoint {step} in {folder}; choose one with --step (saved: "
        f"{saved})"
        if saved
        else f"{folder} holds no checkpoint; train the run first"
      )
    try:
      state, _ = checkpoints.restore(number, parts.state)
    except Exception as e:  # noqa: BLE001  (orbax: see run.unrestorable)
      others = [s for s in checkpoints.steps() if s != number]
      fix = (
        f"choose another with --step (saved: {', '.join(map(str, others))})"
        if others
        else "this run has no other checkpoint"
      )
      raise run.unrestorable(checkpoints.path(number), e, fix) from None
  finally:
    checkpoints.close()
  return cfg, parts, state, number


def _checkpoint(args) -> dict[str, float]:
  from gan_jax import evaluations  # pylint: disable=g-import-not-at-top
  from gan_jax import state as state_lib  # pylint: disable=g-import-not-at-top
  from gan_jax.metrics.evaluator import Evaluator  # pylint: disable=g-import-not-at-top

  cfg, parts, state, step = restore_run(
    args.workdir, args.step, args.config, args.overrides
  )
  print(f"evaluating step {step} of {args.workdir}", file=sys.stderr)
  evaluator = Evaluator(cfg.eval, parts.source, cfg.data.name).prepare()
  return evaluations.score(
    evaluator,
    cfg,
    parts.generator,
    state_lib.sampling_params(state),
    state.g_state,
    parts.root,
    parts.num_classes,
  )


def _positive(text: str) -> int:
  if not text.isdigit() or int(text) < 1:
    raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
  return int(text)


def _step(text: str) -> str:
  if text not in ("latest", "best") and not text.isdigit():
    raise argparse.ArgumentTypeError(
      f"{text!r} is not a step number, latest or best"
    )
  return text


def parse_args(argv):
  parser = CommandParser(
    prog="python -m gan_jax.evaluate",
    description="FID, KID, IS, precision/recall, density/coverage, modes.",
  )
  sub = parser.add_subparsers(dest="command", required=True)
  prep = sub.add_parser("prepare-inception", help="convert and cache weights")
  prep.add_argument(
    "--pth",
    help="pytorch-fid's pt_inception-2015-12-05-*.pth"
    " (adds the logits the Inception Score needs)",
  )
  fid = sub.add_parser("fid", help="FID between two .npz files of images")
  fid.add_argument("a")
  fid.add_argument("b")
  fid.add_argument(
    "--resize", default="tf_bilinear", choices=["tf_bilinear", "bilinear"]
  )
  fid.add_argument("--batch-size", type=_positive, default=50)
  img = sub.add_parser("images", help="metrics of an .npz against a dataset")
  img.add_argument("file")
  img.add_argument("--data", required=True, help="dataset name, e.g. digits")
  ckpt = sub.add_parser("checkpoint", help="metrics of a training run")
  ckpt.add_argument("--workdir", required=True, type=path_argument)
  ckpt.add_argument(
    "--config",
    type=path_argument,
    help="the run's experiment file, when it registers its own components",
  )
  ckpt.add_argument(
    "--step",
    default="latest",
    type=_step,
    help="a step number, latest (default) or best",
  )
  args, rest = parser.parse_known_args(argv)
  args.overrides = [r for r in rest if "=" in r and not r.startswith("-")]
  unknown = [r for r in rest if r not in args.overrides]
  if unknown or (
    args.overrides and args.command not in ("images", "checkpoint")
  ):
    parser.error(f"unrecognized arguments: {' '.join(unknown or rest)}")
  return args


def main(argv=None) -> int:
  args = parse_args(argv)
  try:
    if args.command == "prepare-inception":
      from gan_jax.metrics import inception_weights  # pylint: disable=g-import-not-at-top

      print(inception_weights.prepare(args.pth))
    elif args.command == "fid":
      value = _fid_of_files(args.a, args.b, args.resize, args.batch_size)
      print(f"FID {value:.6f}")
    elif args.command == "images":
      _report(_images(args))
    else:
      _report(_checkpoint(args))
  except UserError as e:
    return report(e)
  except ValueError as e:  # Data that a metric or feature space cannot take.
    print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
