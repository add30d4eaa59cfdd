"""Seed sweeps: each seed is the run `train` would make; scores summarised."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gan_jax import sweep
from gan_jax.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def test_parse_seeds():
  assert sweep.parse_seeds("0-3") == [0, 1, 2, 3]
  assert sweep.parse_seeds("5,0,2-3,2") == [0, 2, 3, 5]
  for bad in ("", "a", "3-1", "1-x", "0,,1"):
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
  # So does a later seed's folder holding a run of another config.
  other = tmp_path / "other"
  shutil.copytree(tmp_path / "seed_1", other / "seed_1")
  capsys.readouterr()
  code = sweep.main(
    [*args[:2], "--workdir", str(other), *args[4:], "loss=hinge"]
  )
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(err) == 1, err
  assert "seed_1 holds a run made with loss='non_saturating'" in err[0]
  assert sorted(p.name for p in other.iterdir()) == ["seed_1"]


def test_sigterm_stops_the_whole_sweep_without_a_summary(tmp_path):
  """The seed in training checkpoints and stops; no later seed starts."""
  args = ["--config", "experiments/mog_ring.py", "--workdir", str(tmp_path)]
  args += ["--seeds", "0-1", "--no-progress", "steps=1000000", "log_every=1"]
  args += ["eval.every=0", "sample_every=1000000", "checkpoint_every=1000000"]
  proc = subprocess.Popen(
    [sys.executable, "-m", "gan_jax.sweep", *args],
    cwd=ROOT,
    stderr=subprocess.PIPE,
    text=True,
  )
  metrics = tmp_path / "seed_0" / "metrics.jsonl"
  try:
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
      if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
        break
      time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
  finally:  # A sweep that did not stop would train for ever.
    proc.kill()
  assert proc.returncode == 128 + signal.SIGTERM, err
  assert "sweep stopped at seed 0" in err
  assert list((tmp_path / "seed_0" / "checkpoints").iterdir())
  assert not (tmp_path / "seed_1").exists()
  assert not (tmp_path / "summary.json").exists()
