"""Preparing TFDS datasets as ArrayRecord files, offline where possible.

- ``digits``: from scikit-learn's wheel, on first use.
- ``fashion_mnist``: from Debian's ``dataset-fashion-mnist`` (content
  checked), on first use when the package is installed.
- a folder of images: :func:`prepare_folder`.
- any other catalog dataset: TFDS's own builder, which downloads and, for
  most datasets, needs TensorFlow to encode images: the ``prepare`` extra
  (``pip install 'gan_jax[prepare]'``). Reading never needs it.

TFDS writes into a temporary folder and renames it when complete, so a
failed preparation leaves nothing half-written. Processes preparing one
dataset in one data dir take turns (:func:`preparing`): the first prepares
it, the others find it prepared (TFDS's rename fails for a second writer).
"""

import contextlib
import difflib
import fcntl
import importlib.util
import os
import re
import sys
from pathlib import Path

import tensorflow_datasets as tfds

from gan_jax.data.builders import digits, fashion_mnist
from gan_jax.errors import DataError

FORMAT = "array_record"
CLI = "python -m gan_jax.data"
# A name TFDS reads back as written: it turns CamelCase into snake_case when
# reading, and cannot parse "-" or a leading digit.
NAME = re.compile(r"[a-z][a-z0-9_]*")


def _snake(name: str) -> str:
  """``name`` made into a :data:`NAME`: my-faces or MyFaces to my_faces."""
  name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
  name = re.sub(r"[^a-z0-9]+", "_", name).strip("_")
  return name if NAME.fullmatch(name) else f"images_{name}".rstrip("_")


@contextlib.contextmanager
def _quiet():
  """No TFDS progress bars or messages while preparing on first use."""
  tfds.disable_progress_bar()
  try:
    with (
      open(os.devnull, "w", encoding="utf-8") as devnull,
      contextlib.redirect_stdout(devnull),
    ):
      yield
  finally:
    tfds.enable_progress_bar()


def other_format(builder, name: str, data_dir: Path) -> DataError:
  """The error for ``name`` prepared in a format without random access."""
  return DataError(
    f"{name} in {builder.data_path} was prepared as "
    f"{builder.info.file_format.value}, which gan_jax "
    f"cannot read (it needs {FORMAT}); delete that folder and run `{CLI} "
    f"prepare {name} --data-dir {data_dir}`, or prepare it in another "
    "folder with --data-dir D and set data.dir=D"
  )


def _in_our_format(make, name: str, data_dir: Path):
  """``make(file_format)``: a builder that reads and writes ArrayRecord.

  A dataset prepared earlier in another format (TFRecord, TFDS's default,
  say by TensorFlow code) makes TFDS refuse the format: a DataError naming
  the folder, read in the format it has.
  """
  try:
    return make(FORMAT)
  except ValueError as e:
    if "File format is already set" not in str(e):
      raise
    raise other_format(make(None), name, data_dir) from None


# prepare-folder's largest --size: every image is held decoded, and the
# models go up to 128×128; a larger side is a typo (100000 ran out of memory).
MAX_SIZE = 4096

# Prepared offline, on first use, by _offline_builder's builders.
OFFLINE = ("digits", "fashion_mnist")


def _offline_builder(name: str, data_dir: Path, source_dir: Path | None):
  if name == "digits":
    return _in_our_format(
      lambda f: digits.Digits(data_dir=str(data_dir), file_format=f),
      name,
      data_dir,
    )
  if name == "fashion_mnist":
    return _in_our_format(
      lambda f: fashion_mnist.FashionMnistFromDebian(
        source_dir=source_dir or fashion_mnist.DEBIAN_DIR,
        data_dir=str(data_dir),
        file_format=f,
      ),
      name,
      data_dir,
    )
  return None


def _taken_names() -> list[str]:
  """Every name ``data.name`` already reaches: sources, ours, TFDS's."""
  from gan_jax.data import SOURCES  # pylint: disable=g-import-not-at-top

  return [
    *SOURCES,
    "digits",
    *tfds.list_builders(with_community_datasets=False),
  ]


def _unknown(name: str, data_dir: Path, problem: str) -> DataError:
  from gan_jax.data import SOURCES  # pylint: disable=g-import-not-at-top

  prepared = (  # TFDS keeps its downloads beside the datasets.
    [
      p.name
      for p in data_dir.iterdir()
      if NAME.fullmatch(p.name) and p.name != "downloads"
    ]
    if data_dir.is_dir()
    else []
  )
  fixed = name if NAME.fullmatch(name) else _snake(name)
  close = difflib.get_close_matches(fixed, _taken_names() + prepared, n=1)
  hint = f"did you mean {close[0]!r}? " if close else ""
  folder = (
    ""
    if close and close[0] == fixed
    else f"; a folder of images: `{CLI} prepare-folder DIR --name {fixed}`"
  )
  return DataError(
    f"data.name={name!r} {problem}; {hint}sources: "
    f"{', '.join(sorted([*SOURCES, 'digits']))}{folder}"
  )


def _catalog_builder(name: str, data_dir: Path):
  try:
    return _in_our_format(
      lambda f: tfds.builder(name, data_dir=str(data_dir), file_format=f),
      name,
      data_dir,
    )
  except tfds.core.registered.DatasetNotFoundError:  # (A ValueError.)
    raise _unknown(
      name,
      data_dir,
      f"is neither a gan_jax source nor a TFDS dataset (nor prepared in "
      f"{data_dir})",
    ) from None
  except ValueError as e:
    if "Parsing builder name string" not in str(e):
      raise
    raise _unknown(
      name,
      data_dir,
      "is not a dataset name (lower-case letters, digits and _, starting "
      "with a letter)",
    ) from None


def _need_tensorflow(name: str) -> None:
  """TFDS's own preparation downloads, and encodes images with TensorFlow."""
  if importlib.util.find_spec("tensorflow") is None:  # Before downloading.
    raise DataError(
      f"preparing {name} with TFDS's builder needs TensorFlow; install it "
      f"with `pip install 'gan_jax[prepare]'` and run `{CLI} prepare {name}`"
    )


@contextlib.contextmanager
def preparing(data_dir: Path, name: str):
  """Holds an exclusive lock on ``data_dir/.NAME.prepare.lock`` (flock,
  released when the file closes, also if the process dies): processes that
  prepare dataset ``name`` in ``data_dir`` take turns."""
  try:
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = open(data_dir / f".{name}.prepare.lock", "a")  # noqa: SIM115
  except OSError as e:
    raise DataError(
      f"cannot write in {data_dir} to prepare {name} ({e.strerror}); set "
      "data.dir (or --data-dir) to a folder you can write"
    ) from None
  with lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    yield


def ready(name: str, data_dir: Path):
  """A prepared builder for ``name``; prepares offline datasets if needed."""
  builder = _offline_builder(name, data_dir, None)
  if builder is not None and not builder.is_prepared():
    if name == "fashion_mnist" and not fashion_mnist.available():
      raise DataError(
        f"fashion_mnist is not prepared in {data_dir}; install it offline "
        f"with `{fashion_mnist.INSTALL}` (it is then prepared on first use) "
        f"or run `{CLI} prepare fashion_mnist --from DIR_WITH_IDX_FILES`"
      )
    print(f"Preparing {name} in {data_dir} (once)", file=sys.stderr)
    with _quiet():
      prepare(name, data_dir)
    builder = _offline_builder(name, data_dir, None)  # Reads the new info.
  if builder is None:
    builder = _catalog_builder(name, data_dir)
    if not builder.is_prepared():
      raise DataError(
        f"{name} is not prepared in {data_dir}; prepare it once with "
        f"`{CLI} prepare {name} --data-dir {data_dir}` (this downloads it), "
        "or set data.dir to where it is prepared"
      )
  return builder


def prepare(name: str, data_dir: Path, source_dir: Path | None = None):
  """Prepares ``name`` in ``data_dir`` unless it is there already;
  ``source_dir``: where fashion_mnist's IDX files are (default: Debian's)."""
  builder = _offline_builder(name, data_dir, source_dir)
  offline = builder is not None
  if builder is None:
    builder = _catalog_builder(name, data_dir)
  if builder.is_prepared():
    return builder
  if name == "fashion_mnist":  # Check every file before writing anything.
    for stem in fashion_mnist.CONTENT_SHA256:
      fashion_mnist.read_checked(builder.source_dir, stem)
  if not offline:
    _need_tensorflow(name)
  with preparing(data_dir, builder.name):
    # Another process may have prepared it while this one waited.
    if offline:
      again = _offline_builder(name, data_dir, source_dir)
    else:
      again = _catalog_builder(name, data_dir)
    if again.is_prepared():
      return again
    builder.download_and_prepare(file_format=FORMAT)
  return builder


def prepare_folder(
  folder: Path, name: str, data_dir: Path, size: int = 0, channels: int = 0
):
  """Checks every image in ``folder``, then writes dataset ``name``."""
  from gan_jax.data.builders import image_folder  # pylint: disable=g-import-not-at-top

  if not NAME.fullmatch(name):  # Checked before anything is written.
    raise DataError(
      f"--name {name} could not be read back as data.name: use lower-case "
      f"letters, digits and _, starting with a letter, e.g. --name "
      f"{_snake(name)}"
    )
  if not 0 <= size <= MAX_SIZE:
    raise DataError(
      f"--size {size} must be a side in pixels up to {MAX_SIZE}, or 0 to "
      f"keep the images' own size; pass --size N with 0 < N <= {MAX_SIZE}, "
      "or leave it out"
    )
  if name in _taken_names():
    raise DataError(
      f"--name {name} is already the name of a dataset; choose another name"
    )
  builder = image_folder.builder(
    folder, name, data_dir=data_dir, size=size, channels=channels
  )
  with preparing(data_dir, name):
    if builder.is_prepared():
      raise DataError(
        f"{name} is already prepared in {builder.data_dir}; delete that "
        "folder first, or choose another --name"
      )
    builder.download_and_prepare(file_format=FORMAT)
  return builder
