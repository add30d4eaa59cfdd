"""Seed sweeps: each seed is the run `train` would make; scores summarised."""

import json

import numpy as np
import pytest

from gan_jax import sweep
from gan_jax.errors import UserError


def test_parse_seeds():
  assert sweep.parse_seeds("0-3") == [0, 1, 2, 3]
  assert sweep.parse_seeds("5,0,2-3,2") == [0, 2, 3, 5]
  for bad in ("", "a", "3-1", "1-x"):
    with pytest.raises(UserError):
      sweep.parse_seeds(bad)


def test_summary_statistics():
  summary = sweep.summarize(
    {0: {"step": 4, "modes": 6.0}, 1: {"step": 4, "modes": 8.0}}
  )
  assert summary["modes"] == {
    "mean": 7.0,
    "std": pytest.approx(2**0.5),
    "min": 6.0,
    "max": 8.0,
    "seeds": 2,
  }


def test_sweep_trains_each_seed_and_writes_the_summary(tmp_path, capsys):
  overrides = [
    "steps=4",
    "log_every=2",
    "sample_every=4",
    "checkpoint_every=4",
    "eval.every=4",
    "eval.num_samples=200",
    "eval.batch_size=200",
    "model.hidden=16",
    "model.depth=1",
  ]
  args = ["--config", "experiments/mog_ring.py", "--workdir", str(tmp_path)]
  args += ["--seeds", "0-1", "--no-progress", *overrides]
  assert sweep.main(args) == 0
  out = capsys.readouterr().out
  assert out.splitlines()[0] == "| metric | mean | std | min | max | seeds |"
  saved = json.loads((tmp_path / "summary.json").read_text())
  assert set(saved["seeds"]) == {"0", "1"}
  points = [
    np.load(tmp_path / f"seed_{s}" / "samples_final.npy") for s in (0, 1)
  ]
  assert not np.array_equal(*points)  # two different runs
  for seed in (0, 1):
    config = json.loads((tmp_path / f"seed_{seed}" / "config.json").read_text())
    assert config["seed"] == seed
    assert saved["seeds"][str(seed)]["step"] == 4
  assert saved["summary"]["modes"]["seeds"] == 2
  # A bad override stops before any seed trains.
  code = sweep.main([*args[:4], "--workdir", str(tmp_path / "bad"), "steps=0"])
  assert code == 2 and not (tmp_path / "bad").exists()
