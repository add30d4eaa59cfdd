"""Latent-space pictures of a trained generator, as PNG grids.

    python -m gan_jax.explore --workdir DIR [--step latest|best|N] interpolate \
        --seeds 0,1,2,3 [--steps 10] [--truncation T] [--out FILE.png]
    python -m gan_jax.explore --workdir DIR truncation \
        --thresholds 0.25,0.5,1,2 [--count 10] [--out FILE.png]
    python -m gan_jax.explore --workdir DIR classes [--count 10] \
        [--classes 0,1,2] [--truncation T] [--out FILE.png]

Each also takes ``key=value`` overrides of the settings a resumed run may
change, such as ``data.dir=...`` where the run's data has moved.

``interpolate``: one row per pair of consecutive seeds, from the first
seed's latent vector to the next one's (spherical interpolation for
Gaussian noise). ``truncation``: one row per threshold, the same ``count``
seeds drawn from the noise truncated at that threshold, so each column
shows one seed losing variety as the threshold falls. ``classes``, for a
conditional generator: one row per class, the same ``count`` seeds in
every row, so each column shows one latent vector drawn as each class
(``interpolate`` and ``truncation`` draw class ``--label`` there). Seeds
name latent
vectors (:func:`gan_jax.latent.of_seed`), so pictures of two checkpoints
compare. The generator runs in inference mode, with its moving average of
parameters when the run keeps one. Written to ``DIR/explore/`` by default.
"""

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

from gan_jax.errors import (
  CommandParser,
  UserError,
  nearest_existing,
  path_argument,
  report,
)
from gan_jax.evaluate import _positive, _step


def _png_path(text: str) -> Path:
  """``--out``: a file name ending in .png, not an existing folder."""
  path = Path(text)
  if path.is_dir():
    raise argparse.ArgumentTypeError(
      f"{text!r} is a folder; give a file name such as {text}/grid.png"
    )
  if path.suffix.lower() != ".png":
    raise argparse.ArgumentTypeError(f"{text!r} does not end in .png")
  folder = nearest_existing(path.parent)  # It must be a folder.
  if folder is not None and not folder.is_dir():
    raise argparse.ArgumentTypeError(
      f"{text!r} is inside {folder}, which is a file; choose another path"
    )
  return path


def _numbers(kind, positive=False):
  def parse(text):
    try:
      values = [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
      raise argparse.ArgumentTypeError(f"{text!r} is not a list") from None
    if not values:
      raise argparse.ArgumentTypeError(f"{text!r} names no value")
    if positive and min(values) <= 0:
      raise argparse.ArgumentTypeError(f"{text!r}: each must be above 0")
    return values

  return parse


def _truncation(text: str) -> float:
  """``--truncation``: 0 for none, else a threshold above 0."""
  try:
    value = float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
  if value < 0:
    raise argparse.ArgumentTypeError(f"{text} is below 0 (0: no truncation)")
  return value


def interpolation_latents(dist, dim, seeds, steps, truncation=0.0):
  """(len(seeds) - 1) rows of ``steps`` latent vectors."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  from gan_jax import latent  # pylint: disable=g-import-not-at-top

  ends = [latent.of_seed(dist, s, dim, truncation) for s in seeds]
  return jnp.concatenate(
    [latent.interpolate(dist, a, b, steps) for a, b in itertools.pairwise(ends)]
  )


def truncation_latents(dist, dim, thresholds, count):
  """One row of ``count`` seeds' vectors per threshold."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  from gan_jax import latent  # pylint: disable=g-import-not-at-top

  return jnp.concatenate(
    [
      jnp.stack(
        [
          latent.truncated(dist, jax.random.key(s), 1, dim, t)[0]
          for s in range(count)
        ]
      )
      for t in thresholds
    ]
  )


def class_latents(dist, dim, classes, count, truncation=0.0):
  """Latent vectors of seeds 0..count-1 repeated for each class, and the
  labels: row r of the grid is ``classes[r]``."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  from gan_jax import latent  # pylint: disable=g-import-not-at-top

  row = jnp.stack(
    [latent.of_seed(dist, s, dim, truncation) for s in range(count)]
  )
  z = jnp.tile(row, (len(classes), 1))
  y = jnp.repeat(jnp.asarray(classes, jnp.int32), count)
  return z, y


def main(argv=None) -> int:
  parser = CommandParser(
    prog="python -m gan_jax.explore", description=__doc__.split("\n\n")[0]
  )
  parser.add_argument("--workdir", required=True, type=path_argument)
  parser.add_argument(
    "--step", type=_step, default="latest", help="N, latest or best"
  )
  parser.add_argument(
    "--config", type=path_argument, help="the run's experiment file, if any"
  )
  parser.add_argument(
    "--out", type=_png_path, help="PNG path (default: DIR/explore/...)"
  )
  sub = parser.add_subparsers(dest="command", required=True)
  inter = sub.add_parser("interpolate", help="rows from seed to seed")
  inter.add_argument("--seeds", type=_numbers(int), default=[0, 1, 2, 3])
  inter.add_argument("--steps", type=int, default=10)
  inter.add_argument(
    "--truncation", type=_truncation, default=0.0, help="0 (default): none"
  )
  inter.add_argument(
    "--label", type=int, help="class of a conditional generator (default 0)"
  )
  trunc = sub.add_parser("truncation", help="rows of falling thresholds")
  trunc.add_argument(
    "--thresholds",
    type=_numbers(float, positive=True),
    default=[2.0, 1.0, 0.5, 0.25],
  )
  trunc.add_argument("--count", type=_positive, default=10)
  trunc.add_argument(
    "--label", type=int, help="class of a conditional generator (default 0)"
  )
  by_class = sub.add_parser("classes", help="one row per class")
  by_class.add_argument("--count", type=_positive, default=10)
  by_class.add_argument(
    "--classes", type=_numbers(int), help="default: every class"
  )
  by_class.add_argument(
    "--truncation", type=_truncation, default=0.0, help="0 (default): none"
  )
  for each in (inter, trunc, by_class):  # --out before or after the command.
    each.add_argument("--out", type=_png_path, default=argparse.SUPPRESS)
  args, rest = parser.parse_known_args(argv)
  overrides = [r for r in rest if "=" in r and not r.startswith("-")]
  unknown = [r for r in rest if r not in overrides]
  if unknown:
    parser.error(f"unrecognized arguments: {' '.join(unknown)}")
  try:
    if args.command == "interpolate" and (
      len(args.seeds) < 2 or args.steps < 2
    ):
      raise UserError("interpolate needs two --seeds or more and --steps ≥ 2")
    import jax  # pylint: disable=g-import-not-at-top

    from gan_jax import data, images  # pylint: disable=g-import-not-at-top
    from gan_jax import state as state_lib  # pylint: disable=g-import-not-at-top
    from gan_jax.evaluate import restore_run  # pylint: disable=g-import-not-at-top
    from gan_jax.models.conditioning import inputs  # pylint: disable=g-import-not-at-top

    cfg, parts, state, step = restore_run(
      args.workdir, args.step, args.config, overrides
    )
    if parts.source.kind != "image":
      raise UserError(
        f"data.name={cfg.data.name!r} is not images; latent grids are "
        "drawn for image data (2-D runs write scatter plots as they train)"
      )
    m, k = cfg.model, parts.num_classes
    if args.command == "classes":
      if not k:
        raise UserError(
          f"{args.workdir} holds an unconditional run; class grids need "
          "model.g_cond and model.d_cond"
        )
      classes = list(range(k)) if args.classes is None else args.classes
      _check_classes(classes, k)
      z, y = class_latents(
        m.latent_dist, m.latent_dim, classes, args.count, args.truncation
      )
      cols, name = args.count, "classes"
    else:
      if not k and args.label is not None:
        raise UserError(
          f"{args.workdir} holds an unconditional run; --label needs "
          "model.g_cond and model.d_cond"
        )
      label = args.label or 0
      if k:
        _check_classes([label], k)
      if args.command == "interpolate":
        z = interpolation_latents(
          m.latent_dist, m.latent_dim, args.seeds, args.steps, args.truncation
        )
        cols, name = args.steps, "interpolation"
      else:
        z = truncation_latents(
          m.latent_dist, m.latent_dim, args.thresholds, args.count
        )
        cols, name = args.count, "truncation"
      y = np.full(len(z), label, np.int32) if k else None
      if k:
        name = f"{name}_class{label}"
    fake, _ = jax.jit(parts.generator.apply, static_argnums=3)(
      state_lib.sampling_params(state), state.g_state, inputs(z, y), False
    )
    out = Path(
      args.out or Path(args.workdir) / "explore" / f"{name}_{step:07d}.png"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    pixels = images.grid(
      np.asarray(fake, np.float32),
      cols=cols,
      value_range=data.value_range(parts.source),
    )
    images.save_png(out, pixels)
  except UserError as e:
    return report(e)
  print(out)
  return 0


def _check_classes(classes, k):
  bad = [c for c in classes if not 0 <= c < k]
  if bad:
    raise UserError(
      f"class {bad[0]} is not one of this run's {k} classes; choose "
      f"from 0 to {k - 1}"
    )


if __name__ == "__main__":
  sys.exit(main())
