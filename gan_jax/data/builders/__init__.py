"""TFDS builders that prepare datasets offline and without TensorFlow.

Each writes ArrayRecord files of PNG-encoded images (encoded with Pillow, so
TensorFlow is never imported) that :mod:`gan_jax.data.tfds_source` reads
with ``tfds.data_source``.
"""

import tensorflow_datasets as tfds


def local_info(info: tfds.core.DatasetInfo) -> tfds.core.DatasetInfo:
  """``info`` without TFDS's lookup of a not-yet-prepared dataset's
  metadata in its GCS bucket (``DatasetInfo.initialize_from_bucket``):
  these datasets are local, and the lookup left an empty ``tmp*tfds``
  folder in the temp dir each time a builder was made before preparing."""
  info.initialize_from_bucket = lambda: None
  return info
