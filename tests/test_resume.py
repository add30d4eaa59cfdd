"""Checkpoints: exact resume, retention, and a graceful stop on signals."""

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gan_jax import config, run, train
from gan_jax.checkpoint import Checkpointer
from gan_jax.errors import ConfigError, DataError
from tests.helpers import trees_differ

ROOT = Path(__file__).resolve().parents[1]


def _assert_bitwise_equal(a, b):
  assert not trees_differ(a, b)


def _losses(workdir: Path) -> list[dict]:
  records = [
    json.loads(line)
    for line in (workdir / "metrics.jsonl").read_text().splitlines()
  ]
  for r in records:
    r.pop("img_per_s", None)
  return records


@pytest.mark.parametrize(
  "n_critic, batch_size, conditional, conv_impl",
  # The first trains with the CPU's default convolutions; the last two read
  # 4,096 digits: over two epochs (with labels).
  [(1, 32, False, "auto"), (2, 256, False, "xla"), (2, 256, True, "xla")],
)
def test_resumed_run_is_bitwise_identical(
  tiny_digits, tmp_path, n_critic, batch_size, conditional, conv_impl
):
  cfg = tiny_digits
  cfg.n_critic, cfg.batch_size = n_critic, batch_size
  cfg.model.conv_impl = conv_impl
  if conditional:
    cfg.model.g_cond, cfg.model.d_cond = "cbn", "projection"
  whole = run.train(cfg, tmp_path / "whole", progress=False)

  cfg.steps = 4
  half = run.train(cfg, tmp_path / "resumed", progress=False)
  assert half.step == 4
  cfg.steps = 8
  resumed = run.train(cfg, tmp_path / "resumed", progress=False)

  assert whole.step == resumed.step == 8
  _assert_bitwise_equal(whole.state, resumed.state)
  assert _losses(tmp_path / "whole") == _losses(tmp_path / "resumed")


def test_a_run_can_continue_under_another_strategy(tiny_digits, tmp_path):
  whole = run.train(tiny_digits, tmp_path / "whole", progress=False)
  tiny_digits.steps = 4
  run.train(tiny_digits, tmp_path / "moved", progress=False)
  tiny_digits.steps, tiny_digits.parallel, tiny_digits.num_devices = (
    8,
    "pmap",
    2,
  )
  moved = run.train(tiny_digits, tmp_path / "moved", progress=False)
  assert moved.step == 8
  assert not trees_differ(whole.state, moved.state, atol=1e-6)


def test_rerun_after_a_crash_logs_each_step_once(tiny_digits, tmp_path):
  """Records past the latest checkpoint, or a cut-short line, are dropped."""
  metrics = tmp_path / "metrics.jsonl"
  tmp_path.mkdir(exist_ok=True)
  metrics.write_text('{"step": 2, "d_loss": 1.0}\n{"step": 4, "d_lo')
  tiny_digits.steps = 4  # No checkpoint yet: the crash came before one.
  run.train(tiny_digits, tmp_path, progress=False)
  with metrics.open("a") as f:  # Killed after logging step 6, unsaved.
    f.write('{"step": 6, "d_loss": 1.0}\n{"step": 8, "d_')
  tiny_digits.steps = 8
  run.train(tiny_digits, tmp_path, progress=False)
  assert [r["step"] for r in _losses(tmp_path)] == [2, 4, 6, 8]
  assert _losses(tmp_path)[1]["d_loss"] != 1.0


def test_keeps_the_last_n_checkpoints(tiny_digits, tmp_path):
  tiny_digits.checkpoint_every, tiny_digits.keep_checkpoints = 2, 2
  run.train(tiny_digits, tmp_path, progress=False)
  steps = sorted(
    int(p.name)
    for p in (tmp_path / "checkpoints").iterdir()
    if p.name.isdigit()
  )
  assert steps == [6, 8]


def test_resume_with_another_config_is_refused_untouched(tiny_digits, tmp_path):
  run.train(tiny_digits, tmp_path, progress=False)
  before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
  tiny_digits.model.width = 16
  with pytest.raises(ConfigError, match="model.width=8"):
    run.train(tiny_digits, tmp_path, progress=False)
  assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_settings_added_since_a_run_began_resume_at_their_defaults(
  tiny_digits, tmp_path
):
  tiny_digits.steps = 4
  run.train(tiny_digits, tmp_path, progress=False)
  saved = json.loads((tmp_path / "config.json").read_text())
  del saved["g_ema_decay"], saved["model"]["pack"]  # as an older run's
  (tmp_path / "config.json").write_text(json.dumps(saved))
  tiny_digits.steps = 8
  assert run.train(tiny_digits, tmp_path, progress=False).step == 8
  tiny_digits.steps, tiny_digits.g_ema_decay = 12, 0.5  # not the default
  saved = json.loads((tmp_path / "config.json").read_text())
  del saved["g_ema_decay"]
  (tmp_path / "config.json").write_text(json.dumps(saved))
  with pytest.raises(
    ConfigError, match=r"made before g_ema_decay existed \(as g_ema_decay=0.0\)"
  ):
    run.train(tiny_digits, tmp_path, progress=False)


def test_checkpoint_of_another_state_layout_is_refused_untouched(
  tiny_digits, tmp_path
):
  """A checkpoint from a version whose state lacks a field (as those made
  before the GAN-techniques fields existed): one line, nothing written."""
  run.train(tiny_digits, tmp_path, progress=False)  # checkpoints 4 and 8
  state = run.assemble(tiny_digits).state
  older = {
    f.name: getattr(state, f.name)
    for f in dataclasses.fields(state)
    if f.name != "augment_p"
  }
  saver = Checkpointer(tmp_path / "checkpoints", keep=5)
  saver.save(12, older, {"step": 12, "data": None})
  saver.close()
  before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
  tiny_digits.steps = 16
  with pytest.raises(ConfigError, match="laid out otherwise") as e:
    run.train(tiny_digits, tmp_path, progress=False)
  assert "checkpoints/12" in str(e.value) and "\n" not in str(e.value)
  assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def _empty_files(step: Path) -> None:
  for path in (step / "state").rglob("*"):
    if path.is_file():
      path.write_bytes(b"")


@pytest.mark.parametrize(
  "damage",
  [
    _empty_files,  # orbax: ValueError
    lambda step: shutil.rmtree(step / "record"),  # KeyError
    lambda step: shutil.rmtree(step / "state" / "ocdbt.process_0"),  # Exception
    # orbax: a tree structure error, as for another layout.
    lambda step: (step / "state" / "_METADATA").unlink(),
  ],
  ids=["emptied", "no_record", "no_array_data", "no_tree_metadata"],
)
def test_damaged_checkpoint_names_the_one_to_go_back_to(
  tiny_digits, tmp_path, damage
):
  """A checkpoint cut short or damaged: one line that says to delete it and
  continue from the one before; nothing written."""
  run.train(tiny_digits, tmp_path, progress=False)  # checkpoints 4 and 8
  damage(tmp_path / "checkpoints" / "8")
  before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
  tiny_digits.steps = 12
  with pytest.raises(DataError, match="cannot be read") as e:
    run.train(tiny_digits, tmp_path, progress=False)
  message = str(e.value)
  assert "checkpoints/8" in message and "continue from step 4" in message
  assert "\n" not in message and len(message) < 500
  assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_orbax_warning_about_a_folder_without_metadata_is_dropped():
  """An empty checkpoint folder: the run's one-line error names it, and
  orbax's warning ("Metadata file does not exist") no longer precedes it."""
  import logging  # pylint: disable=g-import-not-at-top

  def record(message):
    return logging.LogRecord("absl", logging.WARNING, "", 0, message, (), None)

  absl = logging.getLogger("absl")
  assert not absl.filter(record("Metadata file does not exist: /w/8/_X"))
  assert absl.filter(record("another warning"))


def test_workdir_that_is_a_file_is_refused(tiny_digits, tmp_path):
  afile = tmp_path / "afile"
  afile.write_text("keep me")
  for workdir in (afile, afile / "run"):
    with pytest.raises(ConfigError, match="is a file, not a folder"):
      run.train(tiny_digits, workdir, progress=False)
  assert afile.read_text() == "keep me"


def _train_command(workdir: Path, *overrides: str) -> list[str]:
  return [
    sys.executable,
    "-m",
    "gan_jax.train",
    "--config",
    str(ROOT / "experiments" / "dcgan_digits.py"),
    "--workdir",
    str(workdir),
    "--no-progress",
    "model.width=8",
    "model.latent_dim=16",
    "model.conv_impl=xla",
    "batch_size=32",
    "log_every=1",
    "sample_every=1000000",
    "checkpoint_every=1000000",
    "eval.every=0",
    *overrides,
  ]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_finishes_step_checkpoints_and_resumes(tmp_path, signum, capsys):
  workdir = tmp_path / "run"
  proc = subprocess.Popen(
    _train_command(workdir, "steps=1000000"),
    cwd=ROOT,
    stderr=subprocess.PIPE,
    text=True,
  )
  metrics = workdir / "metrics.jsonl"
  deadline = time.time() + 120
  while time.time() < deadline and proc.poll() is None:
    if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
      break
    time.sleep(0.2)
  proc.send_signal(signum)
  _, err = proc.communicate(timeout=120)
  assert proc.returncode == 128 + signum, err

  match = re.search(r"after step (\d+); checkpoint written to (\S+)\.", err)
  assert match, err
  stopped_at, where = int(match.group(1)), Path(match.group(2))
  assert stopped_at >= 3
  assert where == workdir.absolute() / "checkpoints" / str(stopped_at)
  assert (where / "state").is_dir()
  if signum == signal.SIGINT:
    return  # The same checkpoint as SIGTERM's: continuing it is tested once.

  # The same command, now with a reachable end, continues where it stopped
  # (run here in this process, which saves starting another).
  target = stopped_at + 2
  command = _train_command(workdir, f"steps={target}")
  assert train.main(command[3:]) == 0
  assert f"from step {stopped_at}" in capsys.readouterr().err
  steps = [r["step"] for r in _losses(workdir)]
  assert steps == list(range(1, target + 1))

  # And it ends exactly where an uninterrupted run of the same config ends.
  cfg = config.load(ROOT / "experiments" / "dcgan_digits.py", command[8:])
  uninterrupted = run.train(cfg, tmp_path / "whole", progress=False)
  continued = run.train(cfg, workdir, progress=False)  # Restores, trains none.
  _assert_bitwise_equal(uninterrupted.state, continued.state)


def test_a_stop_before_the_first_step_writes_no_checkpoint(
  tiny_digits, tmp_path, monkeypatch, capsys
):
  def stop_at_once(self, step):
    self.agreed = signal.SIGTERM
    return True

  monkeypatch.setattr(run._Stop, "__call__", stop_at_once)
  result = run.train(tiny_digits, tmp_path, progress=False)
  assert result.step == 0 and result.stopped_by == signal.SIGTERM
  assert not list((tmp_path / "checkpoints").glob("[0-9]*"))
  assert "no checkpoint was written" in capsys.readouterr().err


def test_a_stop_during_the_last_step_still_makes_the_final_evaluation(
  tiny_digits, tmp_path, monkeypatch
):
  """The run has ended, and a rerun has nothing left to do: the last
  evaluation is made rather than lost."""
  cfg = config.apply_overrides(
    tiny_digits,
    [
      "eval.every=4",
      "eval.features=digits",
      "eval.metrics=fid",
      "eval.num_samples=64",
      "eval.num_reference=64",
    ],
  )

  def stop_after_the_last_step(self, step):
    if step >= cfg.steps:
      self.agreed = signal.SIGTERM
    return self.agreed is not None

  monkeypatch.setattr(run._Stop, "__call__", stop_after_the_last_step)
  result = run.train(cfg, tmp_path, progress=False)
  assert result.step == cfg.steps and result.stopped_by is None
  evaluated = [r["step"] for r in _losses(tmp_path) if "eval/fid" in r]
  assert evaluated == [4, 8]


def test_sigterm_while_the_run_starts_stops_it_before_the_first_step(
  tiny_digits, tmp_path, monkeypatch
):
  """A preemption while the run builds and compiles: it stops before its
  first step, as one in the loop does (under jax.distributed, JAX's own
  handler took such a signal, and the run went on)."""
  build = run.assemble

  def assemble_then_preempted(cfg):
    parts = build(cfg)
    os.kill(os.getpid(), signal.SIGTERM)
    return parts

  monkeypatch.setattr(run, "assemble", assemble_then_preempted)
  before = signal.getsignal(signal.SIGTERM)
  result = run.train(tiny_digits, tmp_path, progress=False)
  assert result.step == 0 and result.stopped_by == signal.SIGTERM
  assert not list((tmp_path / "checkpoints").glob("[0-9]*"))
  assert signal.getsignal(signal.SIGTERM) == before
