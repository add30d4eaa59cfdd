"""Image preprocessing of the input pipeline: crop, resize, scale.

A pure function of one uint8 ``(H, W, C)`` image, run in grain's reader
threads. The order is: centre crop (``crop="center"``: a ``crop_size``
square, or the largest square when 0), then resize to ``image_size``
(Pillow, antialiased when shrinking), then scale to ``value_range``.
"""

import dataclasses
from typing import Literal

import numpy as np
from PIL import Image

from gan_jax.errors import ConfigError

RESAMPLING = {
  "box": Image.Resampling.BOX,
  "bilinear": Image.Resampling.BILINEAR,
  "bicubic": Image.Resampling.BICUBIC,
  "lanczos": Image.Resampling.LANCZOS,
}


@dataclasses.dataclass(frozen=True)
class Preprocess:
  image_size: int = 0  # 0: as stored.
  crop: Literal["none", "center"] = "none"
  crop_size: int = 0  # With crop="center"; 0: the largest square.
  resize: str = "bicubic"
  value_range: Literal["-1,1", "0,1"] = "-1,1"

  def shape(self, stored: tuple, name: str) -> tuple[int, int, int]:
    """The shape of a preprocessed image; ``stored`` may hold Nones."""
    height, width, channels = stored
    if self.crop == "center":
      fixed = None not in (height, width)
      if fixed and self.crop_size > min(height, width):
        raise ConfigError(
          f"data.crop_size={self.crop_size} exceeds the {width}×{height} "
          f"images of data.name={name!r}; set data.crop_size to at most "
          f"{min(height, width)} (0: the largest square)"
        )
      side = self.crop_size or (min(height, width) if fixed else None)
      height = width = side
    if self.image_size:
      height = width = self.image_size
    if None in (height, width) or channels is None:
      raise ConfigError(
        f"data.name={name!r} stores images of varying size {stored}; set "
        "data.image_size=N (and data.crop=center) to make them N×N"
      )
    return int(height), int(width), int(channels)

  def __call__(self, image: np.ndarray) -> np.ndarray:
    return self.scale(self.geometry(image))

  def geometry(self, image: np.ndarray) -> np.ndarray:
    """The crop and the resize: uint8 in, uint8 out."""
    height, width = image.shape[:2]
    if self.crop == "center":
      side = self.crop_size or min(height, width)
      if side > min(height, width):  # Images of varying size: per image.
        raise ConfigError(
          f"data.crop_size={side} exceeds a {width}×{height} image; set "
          "data.crop_size to at most the smallest side (0: the largest square)"
        )
      top, left = (height - side) // 2, (width - side) // 2
      image = image[top : top + side, left : left + side]
    if self.image_size and image.shape[:2] != (self.image_size,) * 2:
      size = (self.image_size, self.image_size)
      grey = image.shape[2] == 1
      pil = Image.fromarray(image[..., 0] if grey else image)
      image = np.asarray(pil.resize(size, RESAMPLING[self.resize]))
      image = image[..., None] if grey else image
    return image

  @property
  def bounds(self) -> tuple[float, float]:
    """``value_range`` as numbers: what pixels 0 and 255 become."""
    return (0.0, 1.0) if self.value_range == "0,1" else (-1.0, 1.0)

  def scale(self, pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels (any shape) to float32 in ``value_range``."""
    x = pixels.astype(np.float32)
    if self.value_range == "0,1":
      return x / 255.0
    return x / 127.5 - 1.0
