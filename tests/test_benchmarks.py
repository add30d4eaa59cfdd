"""The benchmark commands turn bad options into one line and exit code 2."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
  "script,argv,message",
  [
    (
      "inception_features.py",
      ["--conv-impl", "auto,wino"],
      "--conv-impl: 'wino' is not one of auto, winograd, matmul, xla",
    ),
    (
      "train_step.py",
      ["--conv-impl", "xla,wino"],
      "--conv-impl: 'wino' is not auto, winograd, matmul or xla",
    ),
  ],
)
def test_bad_option_is_one_line_and_exit_2(script, argv, message):
  done = subprocess.run(
    [sys.executable, str(ROOT / "benchmarks" / script), *argv],
    check=False,
    capture_output=True,
    text=True,
    env={**os.environ, "PYTHONPATH": str(ROOT)},
    timeout=120,
  )
  assert done.returncode == 2, done.stderr
  assert done.stderr.splitlines()[-1].endswith(message)
  assert "Traceback" not in done.stderr


def test_gpu_sweep_rejects_a_bad_run_before_starting(tmp_path):
  out = tmp_path / "out"
  done = subprocess.run(
    ["bash", str(ROOT / "benchmarks" / "train_step_gpu.sh"), str(out)],
    check=False,
    capture_output=True,
    text=True,
    env={**os.environ, "RUNS": "dcgan32:64 dcgan64:256x"},
    timeout=60,
  )
  assert done.returncode == 2, done.stderr
  message = (
    "RUNS: 'dcgan64:256x' is not workload:batch[:conv-impls],"
    " e.g. dcgan64:256 or dcgan32:64:auto,matmul"
  )
  assert done.stderr.splitlines() == [message]
  assert not out.exists()  # Nothing ran, so nothing was written.
