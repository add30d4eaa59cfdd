"""Samples from fixed noise, written as the run goes.

Images: a 10×10 PNG grid per call under ``samples/``. 2-D points: a scatter
PNG of 2,500 generated against 2,500 real points; at the end of the run the
generated points are also saved as ``samples_final.npy`` (float32, N×2).
The generator runs in inference mode (BatchNorm running averages). A
conditional generator draws row r of the image grid from class r (mod the
number of classes), and 2-D points from the classes in turn.
"""

import shutil
from pathlib import Path

import jax
import numpy as np

from gan_jax import images, latent
from gan_jax.data.source import Source, value_range
from gan_jax.models.conditioning import inputs
from gan_jax.models.model import Model

COUNT = {"image": 100, "points": 2500}


class SampleWriter:
  def __init__(
    self,
    workdir: Path,
    source: Source,
    generator: Model,
    *,
    latent_dist: str,
    latent_dim: int,
    key: jax.Array,
    num_classes: int = 0,
  ):
    self.workdir = workdir
    self.directory = workdir / "samples"
    self.kind = source.kind
    self.value_range = value_range(source)
    count = COUNT[source.kind]
    self.noise = latent.sample(latent_dist, key, count, latent_dim)
    self.labels = (
      grid_labels(count, num_classes, cols=10 if self.kind == "image" else 1)
      if num_classes
      else None
    )
    self.reference = source.reference(count) if self.kind == "points" else None
    self._generate = jax.jit(
      lambda params, state, z, y: generator.apply(
        params, state, inputs(z, y), False
      )[0]
    )

  def generate(self, g_params, g_state) -> np.ndarray:
    fake = self._generate(g_params, g_state, self.noise, self.labels)
    return np.asarray(fake, np.float32)

  def write(
    self, step: int, g_params, g_state, *, final: bool = False
  ) -> tuple[Path, np.ndarray]:
    """Writes ``samples/step_<step>.png``; returns its path and pixels."""
    self.directory.mkdir(parents=True, exist_ok=True)
    fake = self.generate(g_params, g_state)
    path = self.directory / f"step_{step:07d}.png"
    if self.kind == "image":
      pixels = images.grid(fake, cols=10, value_range=self.value_range)
      images.save_png(path, pixels)
    else:
      pixels = images.scatter_png(
        path, self.reference, fake, f"step {step}: real vs generated"
      )
    if final:
      shutil.copyfile(path, self.directory / "final.png")
      if self.kind == "points":
        np.save(self.workdir / "samples_final.npy", fake)
    return path, pixels


def grid_labels(count: int, num_classes: int, cols: int) -> np.ndarray:
  """Labels of ``count`` samples laid out in rows of ``cols``: row r is
  class r mod ``num_classes``."""
  return (np.arange(count, dtype=np.int32) // cols) % num_classes
