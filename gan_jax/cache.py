"""Where gan_jax keeps what it computes once: weights, classifiers, statistics.

``$GAN_JAX_CACHE`` if set, else ``~/.cache/gan_jax``. Files are written to a
temporary name and renamed, so an interrupted write never leaves a file that
a later run would trust.
"""

import os
import pathlib
import tempfile
import zipfile

import numpy as np

from gan_jax.errors import UserError, reason


def cache_dir() -> pathlib.Path:
  root = os.environ.get("GAN_JAX_CACHE") or os.path.join(
    os.path.expanduser("~"), ".cache", "gan_jax"
  )
  path = pathlib.Path(root)
  try:
    path.mkdir(parents=True, exist_ok=True)
  except OSError as e:  # A file in its place, /proc, read-only, denied.
    raise UserError(
      f"the cache folder {path} cannot be made ({e.strerror}); set "
      "$GAN_JAX_CACHE to a folder you can write"
    ) from None
  return path


# What np.load raises for a file it cannot read: cut short or damaged
# (BadZipFile, EOFError), object arrays or not numpy's (ValueError), or
# unreadable on disk (OSError).
UNREADABLE_NPZ = (ValueError, OSError, EOFError, zipfile.BadZipFile)


def load_npz(path: os.PathLike, remake: str) -> dict[str, np.ndarray]:
  """Every array of a cached ``.npz``; one that cannot be read (damaged on
  disk: writes are atomic) is a UserError saying to delete it, and
  ``remake``: how it is then made again."""
  try:  # The file opened here, so that it is closed when numpy fails.
    with open(path, "rb") as f, np.load(f) as arrays:
      return {name: arrays[name] for name in arrays.files}
  except UNREADABLE_NPZ as e:
    raise UserError(
      f"the cached file {path} cannot be read ({reason(e)}); delete it, and "
      f"{remake}"
    ) from None


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
