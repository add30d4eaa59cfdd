"""The cache folder: computed weights, classifiers and statistics."""

import numpy as np
import pytest

from gan_jax import cache
from gan_jax.errors import UserError
from gan_jax.metrics import digits_classifier, feature_set


def test_a_cache_folder_that_cannot_be_made_is_one_line(tmp_path, monkeypatch):
  afile = tmp_path / "afile"
  afile.write_text("keep")
  monkeypatch.setenv("GAN_JAX_CACHE", str(afile))
  with pytest.raises(UserError) as e:
    cache.cache_dir()
  assert str(e.value) == (
    f"the cache folder {afile} cannot be made (File exists); set "
    "$GAN_JAX_CACHE to a folder you can write"
  )
  assert afile.read_text() == "keep"


def test_a_cache_folder_under_proc_is_one_line(monkeypatch):
  # /proc takes no new folders, even from root.
  monkeypatch.setenv("GAN_JAX_CACHE", "/proc/gan_jax_test_cache")
  with pytest.raises(UserError, match="set \\$GAN_JAX_CACHE to a folder"):
    cache.cache_dir()


def test_saved_arrays_load_back(tmp_path):
  arrays = {"a": np.arange(3), "b/c": np.ones((2, 2), np.float32)}
  cache.save_npz(tmp_path / "x.npz", arrays)
  loaded = cache.load_npz(tmp_path / "x.npz", "")
  assert loaded.keys() == arrays.keys()
  for name, value in arrays.items():
    np.testing.assert_array_equal(loaded[name], value)


@pytest.mark.parametrize(
  "load,remake",
  [
    (
      lambda path: digits_classifier.load_classifier(),
      "it is trained again on first use (seconds)",
    ),
    (feature_set.load, "the next evaluation computes it again"),
  ],
  ids=["digits_classifier", "reference_features"],
)
def test_a_damaged_cache_file_says_to_delete_it(
  tmp_path, monkeypatch, load, remake
):
  """Damaged on disk (writes are atomic): one line, the file to delete and
  what then makes it again, not a BadZipFile traceback."""
  monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path))
  path = digits_classifier.cache_path()
  cache.save_npz(path, {"x": np.zeros(1000)})
  path.write_bytes(path.read_bytes()[:300])
  with pytest.raises(UserError) as e:
    load(path)
  message = str(e.value)
  assert message.startswith(f"the cached file {path} cannot be read (")
  assert message.endswith(f"; delete it, and {remake}")
