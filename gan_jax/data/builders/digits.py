"""scikit-learn's 1,797 8×8 digits as a TFDS dataset named ``digits``.

The digits ship inside scikit-learn's wheel, so this prepares offline in a
second; :mod:`gan_jax.data.tfds_source` prepares it on first use. Pixels in
0..16 are stored as ``round(v * 255 / 16)``; all examples are in ``train``.
"""

import typing

import numpy as np
import tensorflow_datasets as tfds

from gan_jax.data import builders
from gan_jax.data.builders import png


class Digits(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  name = "digits"
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES: typing.ClassVar = {
    "1.0.0": "scikit-learn's load_digits, 8×8 grey, 10 classes."
  }

  def _info(self) -> tfds.core.DatasetInfo:
    return builders.local_info(
      tfds.core.DatasetInfo(
        builder=self,
        description="The UCI optical handwritten digits, as in scikit-learn.",
        features=tfds.features.FeaturesDict(
          {
            "image": tfds.features.Image(shape=(8, 8, 1)),
            "label": tfds.features.ClassLabel(num_classes=10),
          }
        ),
        supervised_keys=("image", "label"),
      )
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download.
    return {"train": self._generate_examples()}

  def _generate_examples(self):
    from sklearn.datasets import load_digits  # pylint: disable=g-import-not-at-top

    digits = load_digits()
    pixels = np.round(digits.images * (255 / 16)).astype(np.uint8)
    for i, (image, label) in enumerate(zip(pixels, digits.target)):
      yield i, {"image": png.encode(image[..., None]), "label": int(label)}
