"""Short end-to-end runs through the command line: what a run writes."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_jax import config, train

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.py"))


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_experiment_config_is_valid(path):
  assert isinstance(config.load(path), config.Config)


def test_digits_run_writes_everything(tmp_path):
  code = train.main(
    [
      "--config",
      str(ROOT / "experiments" / "dcgan_digits.py"),
      "--workdir",
      str(tmp_path),
      "--no-progress",
      "steps=30",
      "model.width=8",
      "log_every=10",
      "sample_every=15",
      "checkpoint_every=20",
      "eval.every=15",
      "eval.num_samples=300",
    ]
  )
  assert code == 0
  lines = [
    json.loads(line)
    for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
  ]
  records = [r for r in lines if "d_loss" in r]
  assert [r["step"] for r in records] == [10, 20, 30]
  evals = {r["step"]: r for r in lines if "eval/fid" in r}
  assert sorted(evals) == [15, 30]
  for r in evals.values():
    assert r["eval/fid"] > 0 and 0 <= r["eval/coverage"] <= 1, r
  best = min(evals, key=lambda s: evals[s]["eval/fid"])
  assert [p.name for p in (tmp_path / "best").iterdir()] == [str(best)]
  for r in records:
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
      assert np.isfinite(r[key]), r
  assert records[-1]["img_per_s"] > 0  # Logged; speed itself is not tested.
  saved = json.loads((tmp_path / "config.json").read_text())
  assert saved["steps"] == 30 and saved["model"]["width"] == 8
  assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
  assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
    "final.png",
    "step_0000015.png",
    "step_0000030.png",
  ]
  grid = np.asarray(Image.open(tmp_path / "samples" / "final.png"))
  assert grid.ndim == 2 and grid.shape[0] > 300  # 10×10 enlarged digits.
  assert grid.std() > 10  # Not a blank picture.
  ckpts = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
  assert ckpts == ["20", "30"]


def test_ring_run_writes_scatter_and_final_points(tmp_path):
  code = train.main(
    [
      "--config",
      str(ROOT / "experiments" / "mog_ring.py"),
      "--workdir",
      str(tmp_path),
      "--no-progress",
      "steps=20",
      "model.hidden=32",
      "log_every=10",
      "sample_every=10",
    ]
  )
  assert code == 0
  points = np.load(tmp_path / "samples_final.npy")
  assert points.shape == (2500, 2) and points.dtype == np.float32
  assert np.all(np.isfinite(points))
  scatter = np.asarray(Image.open(tmp_path / "samples" / "final.png"))
  assert scatter.shape[:2] == (500, 500)


def test_custom_loss_and_plain_jax_model_experiment_trains(tmp_path):
  code = train.main(
    [
      "--config",
      str(ROOT / "experiments" / "custom_ring.py"),
      "--workdir",
      str(tmp_path),
      "--no-progress",
      "steps=40",
      "log_every=20",
    ]
  )
  assert code == 0
  saved = json.loads((tmp_path / "config.json").read_text())
  assert saved["loss"] == "smoothed" and saved["model"]["arch"] == "plain_mlp"
  lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
  records = [json.loads(line) for line in lines]
  last = [r for r in records if "g_loss" in r][-1]
  assert last["step"] == 40 and np.isfinite(last["g_loss"])
  scored = [r for r in records if "eval/modes" in r]  # mixture_modes at the end
  assert [r["step"] for r in scored] == [40] and 0 <= scored[0][
    "eval/modes"
  ] <= 8
  assert np.load(tmp_path / "samples_final.npy").shape == (2500, 2)


def test_samples_of_data_in_0_1_draw_0_black_and_1_white(tmp_path):
  """data.value_range=0,1: the generator learns [0, 1], and the sample
  grid maps that range, not [-1, 1], to the pixels 0..255."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  from gan_jax import data  # pylint: disable=g-import-not-at-top
  from gan_jax.models.model import Model  # pylint: disable=g-import-not-at-top
  from gan_jax.samples import SampleWriter  # pylint: disable=g-import-not-at-top

  source = data.build(config.DataConfig(name="digits", value_range="0,1"), 0)
  assert data.value_range(source) == (0.0, 1.0)
  assert 0 <= source.reference(50).min() and source.reference(50).max() <= 1

  def apply(params, state, z, train):  # Samples 0, 1, 0, 1, ...: 8×8 each.
    del params, train
    value = (jnp.arange(len(z)) % 2).astype(jnp.float32)
    return jnp.broadcast_to(
      value[:, None, None, None], (len(z), 8, 8, 1)
    ), state

  writer = SampleWriter(
    tmp_path,
    source,
    Model(None, apply),
    latent_dist="normal",
    latent_dim=4,
    key=jax.random.key(0),
  )
  path, _ = writer.write(1, {}, {})
  png = np.asarray(Image.open(path))
  # Cells of 8×8 digits enlarged 4 times, after a 1-pixel white border.
  first, second = png[1:33, 1:33], png[1:33, 34:66]
  assert (first == 0).all() and (second == 255).all()
