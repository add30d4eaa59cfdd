"""Sample grids and scatter plots as PNG files."""

import math
from pathlib import Path

import numpy as np

SIGNED = (-1.0, 1.0)


def to_signed(images: np.ndarray, value_range=SIGNED) -> np.ndarray:
  """Float images in ``value_range`` ``(low, high)`` mapped to [-1, 1], the
  range of sample grids, feature spaces and metrics; unchanged when they
  are in [-1, 1] already."""
  low, high = value_range
  if (low, high) == SIGNED:
    return images  # As they are: the same arrays, the same numbers.
  images = np.asarray(images, np.float32)
  return (images - np.float32(low)) * np.float32(2 / (high - low)) - 1


def grid(
  images: np.ndarray,
  cols: int | None = None,
  min_size: int = 32,
  pad: int = 1,
  value_range=SIGNED,
) -> np.ndarray:
  """Tiles N×H×W×C images in ``value_range`` (default [-1, 1]) into one
  uint8 picture: ``low`` is black, ``high`` white.

  Images smaller than ``min_size`` are enlarged by pixel repetition so that
  8×8 digits stay legible.
  """
  images = np.asarray(to_signed(images, value_range), np.float32)
  n, h, w, c = images.shape
  cols = cols or math.ceil(math.sqrt(n))
  rows = math.ceil(n / cols)
  scale = max(1, math.ceil(min_size / max(h, w)))
  pixels = np.clip((images + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
  pixels = pixels.repeat(scale, axis=1).repeat(scale, axis=2)
  h, w = h * scale, w * scale
  out = np.full(
    (rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8
  )
  for i in range(n):
    r, q = divmod(i, cols)
    y, x = pad + r * (h + pad), pad + q * (w + pad)
    out[y : y + h, x : x + w] = pixels[i]
  return out


def save_png(path: Path, image: np.ndarray) -> None:
  from PIL import Image  # pylint: disable=g-import-not-at-top

  if image.shape[-1] == 1:
    image = image[..., 0]
  Image.fromarray(image).save(path)


def scatter_png(
  path: Path, real: np.ndarray, fake: np.ndarray, title: str
) -> np.ndarray:
  """Saves a scatter plot of real vs generated 2-D points; returns its pixels."""
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
  ax.scatter(real[:, 0], real[:, 1], s=4, c="tab:blue", alpha=0.5, label="real")
  ax.scatter(
    fake[:, 0], fake[:, 1], s=4, c="tab:orange", alpha=0.5, label="generated"
  )
  lim = 1.3 * float(np.max(np.abs(real)))
  ax.set_xlim(-lim, lim)
  ax.set_ylim(-lim, lim)
  ax.set_aspect("equal")
  ax.set_title(title)
  ax.legend(loc="upper right", markerscale=3)
  fig.tight_layout()
  fig.canvas.draw()
  pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
  fig.savefig(path)
  plt.close(fig)
  return pixels
