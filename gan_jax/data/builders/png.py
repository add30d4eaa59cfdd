"""PNG bytes of a uint8 image, with Pillow: what TFDS stores for an Image
feature, made without TensorFlow's encoder."""

import io

import numpy as np
from PIL import Image


def encode(image: np.ndarray) -> bytes:
  """PNG of an (H, W, 1) or (H, W, 3) uint8 array."""
  pixels = image[..., 0] if image.shape[-1] == 1 else image
  out = io.BytesIO()
  Image.fromarray(np.ascontiguousarray(pixels)).save(out, format="PNG")
  return out.getvalue()
