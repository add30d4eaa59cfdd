"""Fashion-MNIST prepared offline from Debian's ``dataset-fashion-mnist``.

``apt-get install dataset-fashion-mnist`` puts the four IDX files under
``/usr/share/datasets/fashion-mnist/``. Debian recompressed the ``.gz``
files, so their checksums differ from upstream's and TFDS's download check
would refuse them. The check is made on the decompressed content instead:
the SHA-256 of each IDX file must be that of upstream's (the same digests
are published for the files inside Zalando's archives). The result is the
TFDS catalog's ``fashion_mnist`` (same name, version and features), so
``tfds.data_source("fashion_mnist")`` reads it.
"""

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.image_classification import mnist

from gan_jax.data import builders
from gan_jax.data.builders import png
from gan_jax.errors import DataError

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
INSTALL = "apt-get install dataset-fashion-mnist"

# SHA-256 of the decompressed IDX files of upstream Fashion-MNIST.
CONTENT_SHA256 = {
  "train-images-idx3-ubyte": (
    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
  ),
  "train-labels-idx1-ubyte": (
    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
  ),
  "t10k-images-idx3-ubyte": (
    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
  ),
  "t10k-labels-idx1-ubyte": (
    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
  ),
}
SPLITS = {"train": "train", "test": "t10k"}


def find(directory: Path, stem: str) -> Path:
  for name in (stem + ".gz", stem):
    if (directory / name).is_file():
      return directory / name
  raise DataError(
    f"{directory / (stem + '.gz')} is missing; install Fashion-MNIST with "
    f"`{INSTALL}` or pass the folder holding its IDX files with --from"
  )


def read_checked(directory: Path, stem: str) -> bytes:
  """The decompressed bytes of IDX file ``stem``, checked against upstream."""
  path = find(directory, stem)
  try:
    raw = path.read_bytes()
    if path.suffix == ".gz":
      raw = gzip.decompress(raw)
  except (OSError, EOFError, zlib.error) as e:
    raise DataError(
      f"{path} is not a readable gzip file ({e}); reinstall it with "
      f"`apt-get install --reinstall dataset-fashion-mnist`"
    ) from None
  digest = hashlib.sha256(raw).hexdigest()
  if digest != CONTENT_SHA256[stem]:
    raise DataError(
      f"{path} does not hold upstream Fashion-MNIST (SHA-256 of its content "
      f"is {digest[:16]}…, expected {CONTENT_SHA256[stem][:16]}…); reinstall "
      f"it with `apt-get install --reinstall dataset-fashion-mnist`"
    )
  return raw


def parse_idx(raw: bytes, rank: int) -> np.ndarray:
  """An IDX array of unsigned bytes: magic 0x0000080R, then R big-endian dims."""
  header = 4 * (rank + 1)
  dims = np.frombuffer(raw[4:header], ">u4").astype(int)
  return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


class FashionMnistFromDebian(mnist.FashionMNIST, skip_registration=True):
  """The catalog builder, fed from local files instead of the network."""

  name = "fashion_mnist"

  def __init__(self, *, source_dir: Path = DEBIAN_DIR, **kwargs):
    self.source_dir = Path(source_dir)
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    return builders.local_info(super()._info())

  def _split_generators(self, dl_manager):
    del dl_manager  # Read locally; nothing is downloaded.
    return {
      split: self._generate_examples(prefix) for split, prefix in SPLITS.items()
    }

  def _generate_examples(self, prefix):  # pylint: disable=arguments-differ
    images = parse_idx(
      read_checked(self.source_dir, f"{prefix}-images-idx3-ubyte"), 3
    )
    labels = parse_idx(
      read_checked(self.source_dir, f"{prefix}-labels-idx1-ubyte"), 1
    )
    for i, (image, label) in enumerate(zip(images, labels)):
      yield i, {"image": png.encode(image[..., None]), "label": int(label)}


def available(directory: Path = DEBIAN_DIR) -> bool:
  return all(
    (directory / f"{stem}.gz").is_file() or (directory / stem).is_file()
    for stem in CONTENT_SHA256
  )
