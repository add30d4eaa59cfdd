"""Multi-process training on JAX's distributed runtime, on CPU.

Two processes with two CPU devices each (coordinator on 127.0.0.1) train
the same run as one process with four devices: the global batches, the
noise and the step are the same, so the parameters must be too.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from gan_jax import config, run
from gan_jax.errors import ConfigError
from tests.helpers import trees_differ

ROOT = Path(__file__).resolve().parents[1]
OVERRIDES = [
  "model.width=8",
  "model.latent_dim=16",
  "model.conv_impl=xla",
  "batch_size=32",
  "steps=6",
  "log_every=2",
  "sample_every=3",
  "checkpoint_every=3",
  "eval.every=0",
  "parallel=mesh",
]


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _start(
  workdir: Path,
  processes: int,
  devices: int,
  *extra: str,
  save_state=False,
  only={},  # noqa: B006 (read only)
) -> list[subprocess.Popen]:
  """Starts the train command in ``processes`` processes on 127.0.0.1; with
  ``save_state`` each also saves its final state to
  ``workdir/../state_<i>.npz`` (``tests/multihost_worker.py``); ``only``:
  settings for one process, by its index."""
  port = _free_port()
  env = {
    **os.environ,
    "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
  }

  def command(i: int) -> list[str]:
    state = str(workdir.parent / f"state_{i}.npz")
    entry = (
      ["tests.multihost_worker", state] if save_state else ["gan_jax.train"]
    )
    return [
      sys.executable,
      "-m",
      *entry,
      "--config",
      str(ROOT / "experiments" / "dcgan_digits.py"),
      "--workdir",
      str(workdir),
      "--no-progress",
      "--coordinator",
      f"127.0.0.1:{port}",
      "--num-processes",
      str(processes),
      "--process-id",
      str(i),
      *OVERRIDES,
      *extra,
      *only.get(i, ()),
    ]

  return [
    subprocess.Popen(
      command(i),
      cwd=ROOT,
      env=env,
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
    )
    for i in range(processes)
  ]


def _finish(
  procs: list[subprocess.Popen], timeout: float = 300
) -> list[tuple[int, str, str]]:
  """Each process's exit code, stdout and stderr; fails the test, with all
  of them killed, when one has not ended within ``timeout`` seconds (a
  process stuck in a collective ignores SIGTERM)."""
  outputs = []
  deadline = time.monotonic() + timeout
  for p in procs:
    try:
      out, err = p.communicate(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
      for q in procs:
        q.kill()
      pytest.fail(f"a process of the run was still running after {timeout} s")
    outputs.append((p.returncode, out, err))
  return outputs


def _leaves(tree) -> list[np.ndarray]:
  return [
    np.asarray(jax.random.key_data(x))
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
    else np.asarray(x)
    for x in jax.tree.leaves(tree)
  ]


# Inception evaluations of 4 samples: each process scores them on its own
# devices, and keeps the best checkpoint with the others.
EVAL = [
  "eval.every=3",
  "eval.features=inception",
  "eval.metrics=kid",
  "eval.best=kid",
  "eval.num_samples=4",
  "eval.num_reference=4",
  "eval.max_features=4",
  "eval.batch_size=4",
]


def _evals(workdir: Path) -> dict[int, float]:
  lines = (workdir / "metrics.jsonl").read_text().splitlines()
  records = [json.loads(line) for line in lines]
  return {r["step"]: r["eval/kid"] for r in records if "eval/kid" in r}


def test_two_processes_match_one_process_with_as_many_devices(
  tmp_path, monkeypatch
):
  from gan_jax.metrics import inception_features  # pylint: disable=g-import-not-at-top

  # XLA's Inception, as in the processes (tests/multihost_worker.py).
  monkeypatch.setattr(inception_features, "resolve_conv_impl", lambda _: "xla")
  cfg = config.load(ROOT / "experiments" / "dcgan_digits.py", OVERRIDES + EVAL)
  cfg.num_devices = 4
  single = run.train(cfg, tmp_path / "single", progress=False)

  outputs = _finish(_start(tmp_path / "multi", 2, 2, *EVAL, save_state=True))
  for code, _, err in outputs:
    assert code == 0, err[-3000:]
  ends = [np.load(tmp_path / f"state_{i}.npz") for i in range(2)]
  ends = [[e[f"arr_{k}"] for k in range(len(e.files))] for e in ends]
  expected = _leaves(single.state)
  assert len(ends[0]) == len(expected) > 10
  for mine, theirs, one in zip(*ends, expected):
    np.testing.assert_array_equal(mine, theirs)  # The processes agree,
    np.testing.assert_allclose(mine, one, rtol=0, atol=1e-6)  # and match.

  # Process 0 alone wrote the logs, the samples and the config.
  workdir = tmp_path / "multi"
  lines = (workdir / "metrics.jsonl").read_text().splitlines()
  records = [json.loads(line) for line in lines]
  assert [r["step"] for r in records if "d_loss" in r] == [2, 4, 6]
  # The evaluations are those of the single process, and the best is kept.
  evals = _evals(workdir)
  assert sorted(evals) == [3, 6]
  for step, value in _evals(tmp_path / "single").items():
    assert evals[step] == pytest.approx(value, rel=1e-4)
  assert [p.name for p in (workdir / "best").iterdir()] == [
    str(min(evals, key=evals.get))
  ]
  assert sorted(p.name for p in (workdir / "samples").iterdir()) == [
    "final.png",
    "step_0000003.png",
    "step_0000006.png",
  ]
  assert "Done: 6 steps" in outputs[0][2]
  assert "Done" not in outputs[1][2]

  # Its checkpoint resumes in one process, where the single run goes on too
  # (without evaluations, which are not what this compares).
  cfg.steps, cfg.eval.every = 9, 0
  resumed = run.train(cfg, workdir, progress=False)
  continued = run.train(cfg, tmp_path / "single", progress=False)
  assert resumed.step == continued.step == 9
  assert not trees_differ(resumed.state, continued.state, atol=1e-6)


def test_preemption_of_one_process_stops_all_at_one_checkpoint(tmp_path):
  """SIGTERM to process 1 only: both agree on a step, save it, exit 143."""
  workdir = tmp_path / "multi"
  procs = _start(
    workdir,
    2,
    2,
    "steps=1000000",
    "checkpoint_every=1000000",
    "sample_every=1000000",
  )
  metrics = workdir / "metrics.jsonl"
  deadline = time.time() + 180
  while time.time() < deadline and all(p.poll() is None for p in procs):
    if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
      break
    time.sleep(0.2)
  procs[1].send_signal(signal.SIGTERM)
  codes, _, errors = zip(*_finish(procs))
  assert list(codes) == [143, 143], errors[0][-2000:]
  match = re.search(r"after step (\d+); checkpoint written", errors[0])
  assert match, errors[0][-2000:]
  stopped_at = int(match.group(1))
  assert stopped_at % 2 == 0  # Agreed at a log step (log_every=2).
  saved = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir())
  assert saved == [stopped_at]


def test_a_run_over_a_warm_compilation_cache_does_not_hang(
  tmp_path, monkeypatch
):
  """The same two-process run twice over one persistent compilation cache.
  On JAX 0.12.1 the second one loaded its programs from the cache and hung
  in its first all-reduce; the train command turns the cache off there."""
  monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "xla"))
  for name in ("cold", "warm"):
    outputs = _finish(
      _start(tmp_path / name, 2, 2, "steps=2", "sample_every=2"), timeout=150
    )
    for code, _, err in outputs:
      assert code == 0, err[-2000:]
    steps = [
      json.loads(line)["step"]
      for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == [2]


@pytest.mark.parametrize(
  "setting,first,second",
  [
    (
      "g_optimizer.lr=0.01",
      "process 1 was given a different config from process 0",
      "process 1 was given a different config from process 0",
    ),
    (
      "model.width=-1",
      "process 1 could not read or validate its config",
      "model.width=-1 must be at least 1",
    ),
  ],
  ids=["different", "invalid"],
)
def test_processes_that_disagree_on_the_config_all_stop_at_once(
  tmp_path, setting, first, second
):
  """One process given another setting, or a bad one: every process says
  so in one line and exits 2 before training, instead of training apart
  or waiting for the one that quit."""
  workdir = tmp_path / "multi"
  procs = _start(workdir, 2, 1, only={1: [setting]})
  outputs = _finish(procs)
  for (code, _, err), message in zip(outputs, [first, second]):
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(lines) == 1 and message in lines[0], err[-2000:]
  assert not workdir.exists()


def _train_here(workdir: Path, *flags: str) -> int:
  """The train command's exit code, run in this process with ``flags``."""
  from gan_jax import train  # pylint: disable=g-import-not-at-top

  return train.main(
    [
      "--config",
      str(ROOT / "experiments" / "dcgan_digits.py"),
      "--workdir",
      str(workdir),
      *flags,
    ]
  )


@pytest.mark.parametrize(
  "flags,env,message",
  [
    (
      ["--coordinator", "127.0.0.1:1234"],
      {},
      "multi-process run without num_processes, process_id",
    ),
    (
      ["--coordinator", "localhost", "--num-processes", "2"],
      {"JAX_PROCESS_ID": "0"},
      "the coordinator address localhost is not HOST:PORT",
    ),
    (
      ["--coordinator", "127.0.0.1:1234", "--process-id", "0"],
      {"JAX_NUM_PROCESSES": "two"},
      "JAX_NUM_PROCESSES='two' is not an integer",
    ),
    (
      ["--coordinator", "127.0.0.1:1", "--num-processes", "2"],
      {"JAX_PROCESS_ID": "5"},
      "JAX_PROCESS_ID=5 is not one of the 2 processes; number them 0 to 1",
    ),
    (
      ["--coordinator", "127.0.0.1:1", "--num-processes", "0"],
      {"JAX_PROCESS_ID": "0"},
      "--num-processes 0 must be at least 1",
    ),
  ],
)
def test_bad_distributed_settings_are_one_line_exit_2_at_once(
  tmp_path, capsys, monkeypatch, flags, env, message
):
  # Incomplete settings; and, before these checks, process 0 with a
  # malformed address failed inside JAX with an IndexError, and an id
  # beyond the processes waited 300 s for process 0.
  for name, value in env.items():
    monkeypatch.setenv(name, value)
  code = _train_here(tmp_path / "run", *flags)
  err = capsys.readouterr().err.strip()
  assert code == 2 and err.count("\n") == 0, err
  assert err.startswith(f"error: {message}"), err
  assert not (tmp_path / "run").exists()


def test_a_process_without_its_coordinator_says_so_in_one_line(
  tmp_path, capsys, monkeypatch
):
  """Process 1 waits for process 0's coordinator; an address where nothing
  answers is one line and exit 2, not JAX's abort after 300 s."""
  from gan_jax import distributed  # pylint: disable=g-import-not-at-top

  with socket.socket() as server:
    server.bind(("127.0.0.1", 0))
    server.listen()
    address = f"127.0.0.1:{server.getsockname()[1]}"
    distributed.wait_for_coordinator(address, seconds=1)  # It answers.
  monkeypatch.setattr(distributed, "COORDINATOR_WAIT_S", 1.5)
  start = time.monotonic()
  code = _train_here(
    tmp_path / "run",
    "--coordinator",
    address,
    "--num-processes",
    "2",
    "--process-id",
    "1",
  )
  waited = time.monotonic() - start
  err = capsys.readouterr().err.strip()
  assert code == 2 and err.count("\n") == 0, err
  assert (
    f"nothing answered at the coordinator address {address} in 1.5 s" in err
  )
  assert 1.5 <= waited < 30
  assert not (tmp_path / "run").exists()
  with pytest.raises(ConfigError, match="is not HOST:PORT"):
    distributed.wait_for_coordinator("127.0.0.1", seconds=1)
