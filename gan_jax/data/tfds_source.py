"""Any TFDS image dataset, read with ``tfds.data_source``: no TensorFlow.

``tfds.data_source`` opens the dataset's ArrayRecord files for random
access and decodes examples with NumPy and Pillow. Datasets this library
can prepare offline (:mod:`gan_jax.data.prepare`: the digits, Fashion-MNIST
from Debian's package) are prepared on first use; any other must have been
prepared with ``file_format=array_record``; an error says how.
"""

import logging
import os
import sys
from pathlib import Path

import grain
import numpy as np
import tensorflow_datasets as tfds
from google.protobuf import json_format

from gan_jax.data import prepare
from gan_jax.data.pipeline import Shard, gathered_batches, shuffled_batches
from gan_jax.data.preprocess import Preprocess
from gan_jax.errors import DataError, reason


class _QuietTfds(logging.Filter):
  """Drops two TFDS warnings that need no action: Pillow decodes the
  images (not OpenCV), and a dataset folder checked before it exists."""

  def filter(self, record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not (
      message.startswith("OpenCV is not installed")
      or "has no dataset_info.json" in message
    )


logging.getLogger("absl").addFilter(_QuietTfds())

# A prepared dataset's damaged files: reading records, ArrayRecord's
# RuntimeErrors (a file cut short, corrupted or missing); opening the
# dataset, protobuf's for its dataset_info.json. (Not around preparing,
# which may fail for other reasons: a full disk, a bug.)
_UNREADABLE_RECORDS = RuntimeError
_UNREADABLE_INFO = json_format.Error


def damaged(name: str, folder: Path, error: Exception) -> DataError:
  """The error for a prepared dataset that cannot be read: what to delete,
  and how it is prepared again."""
  again = (
    "gan_jax prepares it again on first use"
    if name in prepare.OFFLINE
    else f"prepare it again (`{prepare.CLI} prepare {name}`, or "
    f"`{prepare.CLI} prepare-folder DIR --name {name}` for a folder of images)"
  )
  return DataError(
    f"the prepared dataset {name} in {folder} cannot be read "
    f"({reason(error)}); "
    f"delete {folder}, and {again}"
  )


class _Records:
  """A TFDS data source whose records, when their file cannot be read,
  raise :func:`damaged`'s DataError (in grain's threads too)."""

  def __init__(self, records, name: str, folder: Path):
    self._records, self._name, self._folder = records, name, folder

  def __len__(self) -> int:
    return len(self._records)

  def __getitem__(self, index):
    try:
      return self._records[index]
    except _UNREADABLE_RECORDS as e:
      raise damaged(self._name, self._folder, e) from None


def data_dir(configured: str = "") -> Path:
  """``data.dir``, else ``$TFDS_DATA_DIR``, else ``~/tensorflow_datasets``."""
  default = "~/tensorflow_datasets"
  chosen = configured or os.environ.get("TFDS_DATA_DIR") or default
  return Path(chosen).expanduser()


# data.in_memory=auto keeps a dataset's decoded uint8 pixels up to this size.
IN_MEMORY_BYTES = 2**30


class TfdsSource:
  """Examples ``data[i][image_key]``, preprocessed, shuffled by grain."""

  kind = "image"

  def __init__(self, cfg, seed: int):
    """``cfg`` is a :class:`gan_jax.config.DataConfig`."""
    self.name, self.seed, self.key = cfg.name, seed, cfg.image_key
    try:
      builder = prepare.ready(cfg.name, data_dir(cfg.dir))
    except _UNREADABLE_INFO as e:
      raise damaged(cfg.name, data_dir(cfg.dir) / cfg.name, e) from None
    info = builder.info
    if info.splits and cfg.split not in info.splits:  # (Mock data has none.)
      raise DataError(
        f"data.split={cfg.split!r} is not a split of {cfg.name}; choose one "
        f"of {', '.join(sorted(info.splits))}"
      )
    features = info.features  # A FeaturesDict: it has no .get.
    feature = features[self.key] if self.key in features else None  # noqa: SIM401
    if not isinstance(feature, tfds.features.Image):
      images = [
        k
        for k, f in info.features.items()
        if isinstance(f, tfds.features.Image)
      ]
      raise DataError(
        f"{cfg.name} has no image feature {self.key!r}; set data.image_key "
        f"to one of {images or 'its features (it has no images)'}"
      )
    try:
      self._data = _Records(
        builder.as_data_source(split=cfg.split),
        cfg.name,
        Path(builder.data_dir),
      )
    except NotImplementedError:
      raise prepare.other_format(builder, cfg.name, data_dir(cfg.dir)) from None
    self.preprocess = Preprocess(
      image_size=cfg.image_size,
      crop=cfg.crop,
      crop_size=cfg.crop_size,
      resize=cfg.resize,
      value_range=cfg.value_range,
    )
    self.example_shape = self.preprocess.shape(feature.shape, cfg.name)
    self.value_range = self.preprocess.bounds  # data.value_range
    self.keep, self.threads, self._pixels = cfg.in_memory, cfg.threads, None
    # Class labels: read only by conditional runs (labelled_batches).
    self.label_key, self._labels = cfg.label_key, None
    label = features[cfg.label_key] if cfg.label_key in features else None  # noqa: SIM401
    is_class = isinstance(label, tfds.features.ClassLabel)
    self.num_classes = label.num_classes if is_class else 0
    self.label_keys = [
      k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)
    ]

  def __len__(self) -> int:
    return len(self._data)

  def example(self, record: dict) -> np.ndarray:
    return self.preprocess(record[self.key])

  def in_memory(self) -> bool:
    if self.keep == "auto":
      return len(self) * np.prod(self.example_shape) <= IN_MEMORY_BYTES
    return self.keep == "yes"

  def pixels(self) -> np.ndarray:
    """Every example, cropped and resized, as uint8 (decoded once; the
    labels are read in the same pass)."""
    if self._pixels is None:
      if len(self) > 10_000:
        print(
          f"Decoding the {len(self)} examples of {self.name} into memory "
          "(data.in_memory=no streams them instead)",
          file=sys.stderr,
        )
      key, label, geometry = self.key, self.label_key, self.preprocess.geometry
      with_labels = bool(self.num_classes)
      decoded = (
        grain.MapDataset.source(self._data)
        .map(
          lambda record: (
            geometry(record[key]),
            record[label] if with_labels else 0,
          )
        )
        .to_iter_dataset(grain.ReadOptions(num_threads=self.threads))
      )
      images, labels = zip(*decoded)
      self._pixels = np.stack(images)
      if with_labels:
        self._labels = np.asarray(labels, np.int32)
    return self._pixels

  def batches(self, batch_size: int, shard: Shard) -> grain.MapDataset:
    """Decoded per example in grain's threads, or, in memory, gathered a
    batch at a time by the same shuffled indices: the same batches."""
    if self.in_memory():
      return gathered_batches(
        self.pixels(), self.seed, batch_size, shard, self.preprocess.scale
      )
    examples = grain.MapDataset.source(self._data).map(self.example)
    return shuffled_batches(examples, self.seed, batch_size, shard)

  def labelled_batches(self, batch_size: int, shard: Shard) -> grain.MapDataset:
    """:meth:`batches` as ``{"x": images, "y": labels}``: the same images."""
    if not self.num_classes:
      raise DataError(
        f"{self.name} has no class-label feature {self.label_key!r} for a "
        "conditional run; set data.label_key to one of "
        f"{self.label_keys or 'its features (it has none)'}, or "
        "model.g_cond=none and model.d_cond=none"
      )
    if self.in_memory():
      pixels = self.pixels()  # Reads the labels in the same pass.
      return gathered_batches(
        pixels,
        self.seed,
        batch_size,
        shard,
        self.preprocess.scale,
        labels=self._labels,
      )
    key = self.label_key
    examples = grain.MapDataset.source(self._data).map(
      lambda record: {
        "x": self.example(record),
        "y": np.int32(record[key]),
      }
    )
    return shuffled_batches(examples, self.seed, batch_size, shard)

  def reference_labels(self, n: int) -> np.ndarray:
    """The labels of :meth:`reference` ``(n)``."""
    n = min(n, len(self))
    if self._labels is not None:
      return self._labels[:n]
    key = self.label_key
    return np.array([self._data[i][key] for i in range(n)], np.int32)

  def reference(self, n: int) -> np.ndarray:
    """The first ``n`` examples in stored order (TFDS shuffled them once)."""
    n = min(n, len(self))
    if self._pixels is not None:  # Decoded already: not again.
      return self.preprocess.scale(self._pixels[:n])
    return np.stack([self.example(self._data[i]) for i in range(n)])
