"""TFDS datasets without TensorFlow: the digits, Fashion-MNIST from Debian,
catalog datasets (mocked), image folders, and every bad input."""

import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from gan_jax import config, data, train
from gan_jax.data import __main__ as data_cli
from gan_jax.data import digits, prepare, tfds_source
from gan_jax.data.builders import fashion_mnist
from gan_jax.data.preprocess import Preprocess
from gan_jax.errors import DataError

ROOT = Path(__file__).resolve().parents[1]


def _cfg(**fields) -> config.DataConfig:
  return config.DataConfig(**fields)


def test_digits_flow_through_tfds_unchanged():
  source = data.build("digits", 0)
  assert isinstance(source, tfds_source.TfdsSource)
  assert source.example_shape == (8, 8, 1) and len(source) == 1797
  stored = source.reference(1797)
  original, _ = digits.load()  # Pixels v/8 - 1 for v in 0..16.
  # Stored as round(v·255/16): within half a grey level of the original.
  key = lambda x: np.round((x.reshape(len(x), -1) + 1) * 8).astype(int)
  assert sorted(map(tuple, key(stored))) == sorted(map(tuple, key(original)))
  assert np.abs(stored - np.round(stored * 8) / 8).max() <= 1 / 255 + 1e-6


def test_tfds_dataset_by_name_with_crop_resize_and_range(tmp_path):
  """Catalog datasets with TFDS's mock data (random examples of the real
  features), which also stands in for their prepared files."""
  prepared = mock.patch.object(
    tfds.core.DatasetBuilder, "is_prepared", return_value=True
  )
  with tfds.testing.mock_data(num_examples=24), prepared:
    cifar = data.build(
      _cfg(name="cifar10", image_size=16, dir=str(tmp_path)), 3
    )
    assert cifar.example_shape == (16, 16, 3)
    batch = cifar.batches(8, data.Shard())[2]
    assert batch.shape == (8, 16, 16, 3) and batch.dtype == np.float32
    assert -1 <= batch.min() and batch.max() <= 1

    faces = _cfg(name="celeb_a", crop="center", crop_size=108, image_size=32)
    faces.value_range = "0,1"
    celeb = data.build(faces, 0)
    assert celeb.example_shape == (32, 32, 3)
    x = celeb.reference(3)
    assert x.shape == (3, 32, 32, 3) and 0 <= x.min() and x.max() <= 1


def test_preprocess_crops_the_centre_then_resizes():
  image = np.zeros((6, 10, 1), np.uint8)
  image[1:5, 3:7] = 255  # A 4×4 white square in the centre.
  crop = Preprocess(crop="center", crop_size=4)
  np.testing.assert_array_equal(crop(image), np.ones((4, 4, 1)))
  both = Preprocess(crop="center", crop_size=4, image_size=2)
  np.testing.assert_allclose(both(image), np.ones((2, 2, 1)), atol=1e-6)
  assert crop.shape((6, 10, 1), "x") == (4, 4, 1)
  with pytest.raises(config.ConfigError, match="data.image_size=N"):
    Preprocess().shape((None, None, 3), "x")
  # A crop larger than the image: refused, not a wrapped slice (18×18).
  big = Preprocess(crop="center", crop_size=64)
  with pytest.raises(config.ConfigError, match="exceeds the 28×20 images"):
    big.shape((20, 28, 1), "x")
  with pytest.raises(config.ConfigError, match="exceeds a 10×6 image"):
    big.geometry(image)


def _idx(array: np.ndarray) -> bytes:
  magic = bytes([0, 0, 8, array.ndim])
  dims = np.asarray(array.shape, ">u4").tobytes()
  return magic + dims + array.astype(np.uint8).tobytes()


def test_fashion_mnist_content_is_checked_not_the_gzip(tmp_path):
  fake = tmp_path / "fake"
  fake.mkdir()
  for stem in fashion_mnist.CONTENT_SHA256:
    shape = (4, 28, 28) if "images" in stem else (4,)
    (fake / f"{stem}.gz").write_bytes(gzip.compress(_idx(np.ones(shape))))
  with pytest.raises(DataError, match="does not hold upstream Fashion-MNIST"):
    prepare.prepare("fashion_mnist", tmp_path / "tfds", fake)
  assert not (tmp_path / "tfds").exists() or not any(
    (tmp_path / "tfds").rglob("*.array_record*")
  )
  (fake / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip")
  with pytest.raises(DataError, match="not a readable gzip file"):
    prepare.prepare("fashion_mnist", tmp_path / "tfds", fake)


def test_idx_parsing():
  array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
  np.testing.assert_array_equal(fashion_mnist.parse_idx(_idx(array), 3), array)


@pytest.mark.skipif(
  not fashion_mnist.available(),
  reason="needs `apt-get install dataset-fashion-mnist` (.ci/run installs it)",
)
def test_real_fashion_mnist_recompressed_differently_is_accepted(tmp_path):
  """Debian's files, gzipped again at another level: other .gz bytes, the
  same content, so the check passes and the dataset is the catalog's."""
  copy = tmp_path / "recompressed"
  copy.mkdir()
  for stem in fashion_mnist.CONTENT_SHA256:
    raw = gzip.decompress(
      (fashion_mnist.DEBIAN_DIR / f"{stem}.gz").read_bytes()
    )
    (copy / f"{stem}.gz").write_bytes(gzip.compress(raw, compresslevel=1))
  labels = fashion_mnist.parse_idx(
    fashion_mnist.read_checked(copy, "t10k-labels-idx1-ubyte"), 1
  )
  assert np.bincount(labels).tolist() == [1000] * 10
  # The dataset itself is prepared once per test session from Debian's files.
  source = data.build("fashion_mnist", 0)
  assert source.example_shape == (28, 28, 1) and len(source) == 60000
  builder = tfds.builder("fashion_mnist", data_dir=tfds_source.data_dir())
  assert builder.info.splits["test"].num_examples == 10000
  assert builder.info.features["label"].names[9] == "Ankle boot"


def _write(path: Path, size=(8, 8), mode="RGB", color=128) -> Path:
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.new(mode, size, color if mode == "L" else (color, 0, 255 - color)).save(
    path
  )
  return path


def _prepare_folder(tmp_path, folder, *extra) -> int:
  return data_cli.main(
    [
      "prepare-folder",
      str(folder),
      "--name",
      "my_images",
      "--data-dir",
      str(tmp_path / "tfds"),
      *extra,
    ]
  )


def test_image_folder_with_class_subfolders(tmp_path, capsys):
  folder = tmp_path / "images"
  for i in range(3):
    _write(folder / "cats" / f"{i}.png", color=10 * i)
  for i in range(2):
    _write(folder / "dogs" / f"{i}.jpg", color=200)
  # Hidden and archive leftovers are neither classes nor images.
  _write(folder / ".ipynb_checkpoints" / "0-checkpoint.png")
  _write(folder / "__MACOSX" / "cats" / "0.png")
  (folder / "cats" / "._0.png").write_bytes(b"\x00\x05\x16\x07 not a png")
  assert _prepare_folder(tmp_path, folder) == 0
  assert "my_images ready" in capsys.readouterr().out
  builder = tfds.builder("my_images", data_dir=str(tmp_path / "tfds"))
  assert builder.info.features["label"].names == ["cats", "dogs"]
  records = builder.as_data_source(split="train")
  labels = sorted(int(records[i]["label"]) for i in range(len(records)))
  assert labels == [0, 0, 0, 1, 1]
  source = data.build(_cfg(name="my_images", dir=str(tmp_path / "tfds")), 0)
  assert source.example_shape == (8, 8, 3)
  assert source.batches(4, data.Shard())[0].shape == (4, 8, 8, 3)


def test_preparing_leaves_no_folder_in_the_temp_dir(tmp_path, monkeypatch):
  # TFDS looks for an unprepared dataset's metadata in its GCS bucket, in
  # a fresh tmp*tfds folder it never removes; gan_jax's builders skip that.
  temp = tmp_path / "temp"
  temp.mkdir()
  monkeypatch.setattr(tempfile, "tempdir", str(temp))
  prepare.ready("digits", tmp_path / "tfds")
  assert not fashion_mnist.FashionMnistFromDebian(
    data_dir=str(tmp_path / "tfds"), file_format="array_record"
  ).is_prepared()
  folder = tmp_path / "images"
  _write(folder / "a.png")
  assert _prepare_folder(tmp_path, folder) == 0
  assert list(temp.iterdir()) == []


def _corrupt(folder: Path) -> None:
  _write(folder / "a.png")
  (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")


@pytest.mark.parametrize(
  "make, message",
  [
    (lambda f: f.mkdir(), "no .png/.jpg/.jpeg images in"),
    (_corrupt, "b.png is not a readable image"),
    (
      lambda f: (_write(f / "a.png"), _write(f / "b.png", size=(16, 16))),
      "--size N",
    ),
    (
      lambda f: (_write(f / "a.png"), _write(f / "b.png", mode="L")),
      "--channels 3",
    ),
    (
      lambda f: (
        _write(f / "cats" / "a.png"),
        _write(f / "dogs" / "x" / "b.png"),
      ),
      "the class folder",
    ),
  ],
  ids=["empty", "corrupt", "mixed_sizes", "mixed_channels", "empty_class"],
)
def test_bad_image_folder_is_one_line_exit_2_nothing_written(
  tmp_path, capsys, make, message
):
  folder = tmp_path / "images"
  make(folder)
  assert _prepare_folder(tmp_path, folder) == 2
  err = capsys.readouterr().err.strip()
  assert err.startswith("error: ") and "\n" not in err and message in err
  assert not (tmp_path / "tfds").exists() or not any(
    (tmp_path / "tfds").iterdir()
  )


@pytest.mark.parametrize("size", ["-4", "100000"])
def test_impossible_size_is_refused_before_any_image_is_read(
  tmp_path, capsys, size
):
  folder = tmp_path / "images"
  _write(folder / "a.png")
  assert _prepare_folder(tmp_path, folder, "--size", size) == 2
  err = capsys.readouterr().err.strip()
  assert err.startswith(f"error: --size {size} must be a side in pixels up to")
  assert "\n" not in err and "a.png" not in err
  assert not (tmp_path / "tfds").exists()


def test_fix_named_in_the_error_works(tmp_path):
  folder = tmp_path / "images"
  _write(folder / "a.png")
  _write(folder / "b.png", size=(16, 12), mode="L")
  assert (
    _prepare_folder(tmp_path, folder, "--size", "8", "--channels", "3") == 0
  )
  source = data.build(_cfg(name="my_images", dir=str(tmp_path / "tfds")), 0)
  assert source.example_shape == (8, 8, 3)


@pytest.mark.parametrize("name", ["my-faces", "MyFaces"])
def test_folder_name_tfds_cannot_read_back_is_refused(tmp_path, capsys, name):
  """TFDS reads "-" as an error and MyFaces as my_faces: such a dataset
  could never be trained on, so nothing is written; the name offered works."""
  folder = tmp_path / "images"
  _write(folder / "a.png")
  tfds_dir = tmp_path / "tfds"
  command = ["prepare-folder", str(folder), "--data-dir", str(tfds_dir)]
  assert data_cli.main([*command, "--name", name]) == 2
  err = capsys.readouterr().err.strip()
  assert err.startswith(f"error: --name {name} ") and "\n" not in err
  assert err.endswith("--name my_faces") and not tfds_dir.exists()
  assert data_cli.main([*command, "--name", "my_faces"]) == 0
  source = data.build(_cfg(name="my_faces", dir=str(tfds_dir)), 0)
  assert len(source) == 1 and source.example_shape == (8, 8, 3)


def _train(tmp_path, capsys, *overrides) -> tuple[int, str]:
  workdir = tmp_path / "run"
  workdir.mkdir()
  (workdir / "keep.txt").write_text("mine")
  code = train.main(
    [
      "--config",
      str(ROOT / "experiments" / "dcgan_digits.py"),
      "--workdir",
      str(workdir),
      *overrides,
    ]
  )
  assert sorted(p.name for p in workdir.iterdir()) == ["keep.txt"]
  return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize(
  "overrides, message",
  [
    (["data.name=fashon_mnist"], "did you mean 'fashion_mnist'?"),
    (["data.name=fashion-mnist"], "did you mean 'fashion_mnist'?"),
    (["data.name=cifar10"], "python -m gan_jax.data prepare cifar10"),
    (["data.split=validation"], "data.split='validation' is not a split"),
    (["data.image_key=picture"], "set data.image_key to one of ['image']"),
    (
      ["data.crop=center", "data.crop_size=9"],
      "data.crop_size=9 exceeds the 8×8 images of data.name='digits'",
    ),
  ],
  ids=[
    "misspelt",
    "not_a_name",
    "not_prepared",
    "split",
    "image_key",
    "crop_size",
  ],
)
def test_bad_dataset_is_one_line_exit_2_workdir_untouched(
  tmp_path, capsys, overrides, message
):
  code, err = _train(
    tmp_path, capsys, f"data.dir={tmp_path / 'tfds'}", *overrides
  )
  assert code == 2 and err.count("\n") <= 1, err
  last = err.splitlines()[-1]
  assert last.startswith("error: ") and message in last, err


def test_dataset_prepared_as_tfrecord_is_one_line_and_the_fix_works(
  tmp_path, capsys
):
  """A version folder TFDS wrote in its default format (say by TensorFlow
  code, earlier): named, left as it is, and the advice given works."""
  tfds_dir = tmp_path / "tfds"
  folder = tfds_dir / "digits" / "1.0.0"
  shutil.copytree(tfds_source.data_dir() / "digits" / "1.0.0", folder)
  info = folder / "dataset_info.json"
  info.write_text(
    info.read_text().replace(
      '"fileFormat": "array_record"', '"fileFormat": "tfrecord"'
    )
  )
  before = {p: p.read_bytes() for p in folder.iterdir()}
  code, err = _train(tmp_path, capsys, f"data.dir={tfds_dir}")
  assert code == 2 and err.count("\n") == 0, err
  assert f"digits in {folder} was prepared as tfrecord" in err, err
  assert data_cli.main(["prepare", "digits", "--data-dir", str(tfds_dir)]) == 2
  assert capsys.readouterr().err == err + "\n"
  assert {p: p.read_bytes() for p in folder.iterdir()} == before
  shutil.rmtree(folder)  # The advice: delete that folder, prepare again.
  assert data_cli.main(["prepare", "digits", "--data-dir", str(tfds_dir)]) == 0
  assert len(data.build(_cfg(dir=str(tfds_dir)), 0)) == 1797


def _cut_short(folder: Path) -> None:
  (record,) = folder.glob("*.array_record-*")
  with record.open("r+b") as f:
    f.truncate(1000)


def _scrambled(folder: Path) -> None:
  (record,) = folder.glob("*.array_record-*")
  data = bytearray(record.read_bytes())
  data[200:-200:97] = bytes(b ^ 0xFF for b in data[200:-200:97])
  record.write_bytes(bytes(data))


@pytest.mark.parametrize(
  "damage,deleted",
  [
    (_cut_short, "1.0.0"),
    (_scrambled, "1.0.0"),
    (lambda f: next(f.glob("*.array_record-*")).unlink(), "1.0.0"),
    (lambda f: (f / "dataset_info.json").write_text("{"), ""),
  ],
  ids=["cut_short", "scrambled", "record_file_missing", "info_not_json"],
)
def test_damaged_prepared_dataset_is_one_line_and_the_fix_works(
  tmp_path, capsys, damage, deleted
):
  """Its files cut short, scrambled or gone: one line naming the folder to
  delete; deleting it, the digits are prepared again on first use."""
  tfds_dir = tmp_path / "tfds"
  folder = tfds_dir / "digits" / "1.0.0"
  shutil.copytree(tfds_source.data_dir() / "digits" / "1.0.0", folder)
  damage(folder)
  code, err = _train(tmp_path, capsys, f"data.dir={tfds_dir}")
  named = (tfds_dir / "digits" / deleted) if deleted else tfds_dir / "digits"
  assert code == 2 and err.count("\n") == 0, err
  assert err.startswith(f"error: the prepared dataset digits in {named} "), err
  assert err.endswith(
    f"delete {named}, and gan_jax prepares it again on first use"
  )
  shutil.rmtree(named)
  assert len(data.build(_cfg(dir=str(tfds_dir)), 0).reference(2000)) == 1797


def test_catalog_preparation_without_tensorflow_says_how(tmp_path, capsys):
  if sys.modules.get("tensorflow") or _has_tensorflow():
    pytest.skip("TensorFlow is installed: this would download cifar10")
  code = data_cli.main(["prepare", "cifar10", "--data-dir", str(tmp_path)])
  err = capsys.readouterr().err.strip()
  assert code == 2 and "pip install 'gan_jax[prepare]'" in err


def _has_tensorflow() -> bool:
  import importlib.util  # pylint: disable=g-import-not-at-top

  return importlib.util.find_spec("tensorflow") is not None


WATCH_TENSORFLOW = """
import sys
import traceback

class Watch:  # Records every import of TensorFlow tried; finds nothing.
  tried = []

  def find_spec(self, name, path=None, target=None):
    # An import statement, not a presence probe (importlib.util.find_spec,
    # which etils uses to choose a file-system backend).
    importing = any(
      f.name == "_find_and_load" for f in traceback.extract_stack()
    )
    if name.split(".")[0] == "tensorflow" and importing:
      Watch.tried.append(name)
    return None

sys.meta_path.insert(0, Watch())
from gan_jax import train
code = train.main(sys.argv[1:])
assert not Watch.tried, Watch.tried
assert "tensorflow" not in sys.modules
sys.exit(code)
"""


def test_preparing_reading_and_training_never_import_tensorflow(tmp_path):
  """A digits run, preparing its data first, never tries to import TF."""
  env = {**os.environ, "TFDS_DATA_DIR": str(tmp_path / "tfds")}
  done = subprocess.run(
    [
      sys.executable,
      "-c",
      WATCH_TENSORFLOW,
      "--config",
      str(ROOT / "experiments" / "dcgan_digits.py"),
      "--workdir",
      str(tmp_path / "run"),
      "--no-progress",
      "steps=2",
      "model.width=8",
      "model.conv_impl=xla",
      "batch_size=16",
      "eval.every=0",
    ],
    cwd=ROOT,
    env=env,
    capture_output=True,
    text=True,
    timeout=300,
    check=False,
  )
  assert done.returncode == 0, done.stderr[-2000:]
  assert (tmp_path / "tfds" / "digits").is_dir()
  assert (tmp_path / "run" / "checkpoints" / "2").is_dir()


PREPARE_DIGITS = """
import sys
import time
from pathlib import Path
from gan_jax.data import prepare
builder = prepare.ready("digits", Path(sys.argv[1]))
print(builder.info.splits["train"].num_examples)
"""


def test_processes_preparing_one_dataset_take_turns(tmp_path):
  """Two processes find the digits unprepared in one fresh data dir; they
  wait while the lock is held, then one prepares them and both read them
  (without the lock, TFDS's final rename failed for the second)."""
  tfds_dir = tmp_path / "tfds"
  runs = []
  with prepare.preparing(tfds_dir, "digits"):
    for _ in range(2):
      runs.append(
        subprocess.Popen(
          [sys.executable, "-c", PREPARE_DIGITS, str(tfds_dir)],
          cwd=ROOT,
          stdout=subprocess.PIPE,
          stderr=subprocess.PIPE,
          text=True,
        )
      )
    for run in runs:  # Each has found the digits unprepared.
      lines = iter(run.stderr.readline, "")
      assert any(line.startswith("Preparing digits") for line in lines)
    time.sleep(2)
    assert [run.poll() for run in runs] == [None, None]
    assert not (tfds_dir / "digits" / "1.0.0").exists()
  for run in runs:
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0 and out == "1797\n", err[-2000:]


def test_in_memory_and_streamed_batches_are_the_same():
  """Decoded once and gathered by index, or decoded per example in grain's
  threads: the same shuffled batches either way."""
  kept = data.build(_cfg(name="digits", in_memory="yes"), 3)
  streamed = data.build(_cfg(name="digits", in_memory="no"), 3)
  assert kept.in_memory() and not streamed.in_memory()
  assert data.build("digits", 0).in_memory()  # auto: 115 KB of pixels.
  for shard in (data.Shard(), data.Shard(1, 2)):
    a, b = kept.batches(64, shard), streamed.batches(64, shard)
    for i in (0, 27, 28, 100):  # 28 batches of 64 make an epoch.
      assert np.array_equal(a[i], b[i])
  # Once decoded, the reference examples come from memory, the same too.
  assert np.array_equal(kept.reference(50), streamed.reference(50))
