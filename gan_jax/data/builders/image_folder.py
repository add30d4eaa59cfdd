"""A folder of PNG/JPEG images as a TFDS dataset, labels from sub-folders.

    python -m gan_jax.data prepare-folder DIR --name NAME [--size S] [--channels C]

``DIR/<class>/*.png`` gives one class per sub-folder (sorted names, label
0, 1, ...); a ``DIR`` without sub-folders is one class of the images in it
(with sub-folders, images directly in ``DIR`` are not used). Every image is
decoded before anything is written, so a corrupt file, mixed sizes or mixed
channels are found first, named, and nothing is written. ``--size S``
centre-crops to a square and resizes to S×S; ``--channels`` converts to 1
(grey) or 3 (RGB). Train with ``data.name=NAME``.
"""

import dataclasses
import types
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image, UnidentifiedImageError

from gan_jax.data import builders
from gan_jax.data.builders import png
from gan_jax.errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg")
MODES = {1: "L", 3: "RGB"}


@dataclasses.dataclass
class Listing:
  files: list[Path]
  labels: list[int]
  classes: list[str]


def _entries(folder: Path):
  """What a folder holds, less hidden files and folders (``.ipynb_checkpoints``,
  macOS's ``._*`` copies) and macOS's ``__MACOSX`` archive folder."""
  return (
    p
    for p in folder.iterdir()
    if not p.name.startswith(".") and p.name != "__MACOSX"
  )


def list_images(folder: Path) -> Listing:
  if not folder.is_dir():
    raise DataError(f"{folder} is not a folder; pass a folder of images")
  classes = sorted(p.name for p in _entries(folder) if p.is_dir())
  groups = [(folder, "")] if not classes else [(folder / c, c) for c in classes]
  files, labels = [], []
  for label, (directory, _) in enumerate(groups):
    for path in sorted(_entries(directory)):
      if path.is_file() and path.suffix.lower() in EXTENSIONS:
        files.append(path)
        labels.append(label)
  if not files:
    where = f"{folder} or its sub-folders" if classes else str(folder)
    raise DataError(
      f"no .png/.jpg/.jpeg images in {where}; put the images in {folder} "
      "(or one sub-folder per class) and run prepare-folder again"
    )
  used = set(labels)
  empty = [c for label, c in enumerate(classes) if label not in used]
  if empty:  # A class no example has would skew every conditional run.
    raise DataError(
      f"the class folder {folder / empty[0]} holds no .png/.jpg/.jpeg "
      "images (those in its sub-folders are not read); move its images up "
      "into it, or remove it, and run prepare-folder again"
    )
  return Listing(files, labels, classes or ["images"])


def load(path: Path, size: int, channels: int) -> np.ndarray:
  """The image as uint8 (H, W, C), converted and resized as asked."""
  try:
    with Image.open(path) as image:
      image.load()
      if channels:
        image = image.convert(MODES[channels])
      elif image.mode not in ("L", "RGB"):
        raise DataError(
          f"{path} has pixel mode {image.mode}; pass --channels 3 (RGB) or "
          "--channels 1 (grey) to prepare-folder to convert every image"
        )
      if size:
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side))
        image = image.resize((size, size), Image.Resampling.BICUBIC)
      pixels = np.asarray(image)
  except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
    raise DataError(
      f"{path} is not a readable image ({e}); replace or delete it and run "
      "prepare-folder again"
    ) from None
  return pixels[..., None] if pixels.ndim == 2 else pixels


def check(listing: Listing, size: int, channels: int) -> tuple[int, ...]:
  """Decodes every image; returns the one shape they share."""
  shape, first = None, None
  for path in listing.files:
    pixels = load(path, size, channels)
    if shape is None:
      shape, first = pixels.shape, path
    elif pixels.shape[2] != shape[2]:
      raise DataError(
        f"{path} has {pixels.shape[2]} channel(s) but {first} has "
        f"{shape[2]}; pass --channels 3 (or 1) to prepare-folder to convert"
      )
    elif pixels.shape != shape:
      raise DataError(
        f"{path} is {pixels.shape[1]}×{pixels.shape[0]} but {first} is "
        f"{shape[1]}×{shape[0]}; pass --size N to prepare-folder to crop "
        "and resize every image to N×N"
      )
  return shape


def builder(
  folder: str | Path,
  name: str,
  *,
  data_dir: str | Path,
  size: int = 0,
  channels: int = 0,
) -> tfds.core.GeneratorBasedBuilder:
  """A TFDS builder named ``name`` for the images in ``folder``.

  Raises DataError, before anything is written, if the folder is empty or
  an image is corrupt or differs from the first in size or channels.
  """
  folder = Path(folder)
  listing = list_images(folder)
  shape = check(listing, size, channels)

  def info(self):
    return builders.local_info(
      tfds.core.DatasetInfo(
        builder=self,
        description=f"Images from {folder.absolute()}.",
        features=tfds.features.FeaturesDict(
          {
            "image": tfds.features.Image(shape=shape),
            "label": tfds.features.ClassLabel(names=listing.classes),
          }
        ),
        supervised_keys=("image", "label"),
      )
    )

  def split_generators(self, dl_manager):
    del dl_manager
    return {"train": self._generate_examples()}

  def generate_examples(self):
    del self
    for i, (path, label) in enumerate(zip(listing.files, listing.labels)):
      image = png.encode(load(path, size, channels))
      yield i, {"image": image, "label": label}

  cls = types.new_class(
    "ImageFolder",
    (tfds.core.GeneratorBasedBuilder,),
    {"skip_registration": True},
    lambda ns: ns.update(
      name=name,
      VERSION=tfds.core.Version("1.0.0"),
      _info=info,
      _split_generators=split_generators,
      _generate_examples=generate_examples,
    ),
  )
  return cls(data_dir=str(data_dir), file_format="array_record")
