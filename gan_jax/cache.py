"""Where gan_jax keeps what it computes once: weights, classifiers, statistics.

``$GAN_JAX_CACHE`` if set, else ``~/.cache/gan_jax``. Files are written to a
temporary name and renamed, so an interrupted write never leaves a file that
a later run would trust.
"""

import os
import pathlib
import tempfile

import numpy as np


def cache_dir() -> pathlib.Path:
  root = os.environ.get("GAN_JAX_CACHE") or os.path.join(
    os.path.expanduser("~"), ".cache", "gan_jax"
  )
  path = pathlib.Path(root)
  path.mkdir(parents=True, exist_ok=True)
  return path


def save_npz(path: os.PathLike, arrays: dict[str, np.ndarray]) -> None:
  """Writes ``arrays`` to ``path`` atomically."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
  try:
    with os.fdopen(fd, "wb") as f:
      np.savez(f, **arrays)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
