"""Evaluation: the pytorch-fid weights, the evaluator, the command line."""

import json
import os

import numpy as np
import pytest
from sklearn.datasets import load_digits

from gan_jax import config, data, evaluate, images, run
from gan_jax.errors import ConfigError
from gan_jax.metrics import (
  feature_set,
  frechet,
  inception_features,
  inception_weights,
)
from gan_jax.metrics.evaluator import Evaluator
from tests import torch_files

FIXTURE = os.path.join(
  os.path.dirname(__file__), "fixtures", "inception_reference.npz"
)


def _pytorch_fid_state_dict(rng) -> dict[str, np.ndarray]:
  """fid-helper's weights under pytorch-fid's names, plus a random fc."""
  flat = inception_weights.from_fid_helper(inception_weights.fid_helper_file())
  arrays = {}
  for key, value in flat.items():
    layer, leaf = key.rsplit("/", 1)
    name = layer.removesuffix("/conv").replace("/", ".")
    if leaf == "kernel":
      arrays[f"{name}.conv.weight"] = np.transpose(value, (3, 2, 0, 1))
      arrays[f"{name}.bn.weight"] = np.ones(value.shape[-1], np.float32)
    else:
      bn = {"beta": "bias", "mean": "running_mean", "var": "running_var"}
      arrays[f"{name}.bn.{bn[leaf]}"] = value
  arrays["fc.weight"] = rng.normal(0, 0.05, (1008, 2048)).astype(np.float32)
  arrays["fc.bias"] = rng.normal(0, 1, 1008).astype(np.float32)
  return arrays


@pytest.mark.parametrize(
  "writer", [torch_files.save_zip, torch_files.save_legacy]
)
def test_pytorch_fid_weights_give_the_same_features_and_logits(
  writer, monkeypatch, tmp_path
):
  monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path / "cache"))
  arrays = _pytorch_fid_state_dict(np.random.default_rng(0))
  pth = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
  writer(pth, arrays)
  inception_weights.prepare(pth)
  with np.load(FIXTURE) as fixture:
    images, expected = fixture["images_noise32"], fixture["pool3_noise32"]
  # The weights are the subject here; test_inception covers conv_impl.
  out = inception_features.InceptionFeatures(
    batch_size=2, with_logits=True, conv_impl="xla"
  )(images)
  np.testing.assert_allclose(out["pool3"], expected, rtol=1e-4, atol=1e-5)
  # Logits without the bias, as the original Inception Score code.
  np.testing.assert_allclose(
    out["logits"], out["pool3"] @ arrays["fc.weight"].T, rtol=1e-4, atol=1e-4
  )


def test_a_batchnorm_scale_is_folded_into_the_convolution():
  rng = np.random.default_rng(1)
  w = rng.normal(size=(4, 3, 1, 1)).astype(np.float32)  # OIHW, 1×1
  beta, mean, var, gamma = (
    rng.uniform(0.5, 2, 4).astype(np.float32) for _ in range(4)
  )
  x = rng.normal(size=(5, 3)).astype(np.float32)
  want = gamma * (x @ w[:, :, 0, 0].T - mean) / np.sqrt(var + 1e-3) + beta
  layer = inception_weights._conv_bn(w, beta, mean, var, gamma)  # pylint: disable=protected-access
  got = (x @ layer["conv/kernel"][0, 0] - layer["mean"]) / np.sqrt(
    layer["var"] + 1e-3
  ) + layer["beta"]
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_collect_keeps_exact_stats_and_at_most_max_features():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(230, 6)).astype(np.float32)
  fs = feature_set.collect(
    [x[:100], x[100:200], x[200:]],
    lambda b: {"features": b * 2, "logits": b[:, :3]},
    max_features=150,
    keep_logits=True,
    keep_samples=True,
  )
  assert fs.count == 230 and fs.features.shape == (150, 6)
  np.testing.assert_allclose(fs.stats.mean, (2 * x).mean(0), rtol=1e-6)
  np.testing.assert_allclose(
    fs.stats.covariance,
    np.cov(2 * x.astype(np.float64), rowvar=False),
    rtol=1e-6,
  )
  np.testing.assert_array_equal(fs.logits, x[:, :3])
  np.testing.assert_array_equal(fs.samples, x)


def _digits_eval(**changes) -> config.EvalConfig:
  ev = config.EvalConfig(features="digits", metrics="fid,kid,precision_recall")
  for k, v in changes.items():
    setattr(ev, k, v)
  return ev


def test_real_digits_score_better_than_noise_and_the_reference_is_cached():
  source = data.build("digits", 0)
  ev = _digits_eval(num_reference=1000)
  real = source.reference(1797)[1000:1500]
  noise = np.random.default_rng(0).uniform(-1, 1, real.shape).astype(np.float32)
  evaluator = Evaluator(ev, source, "digits")
  good = evaluator.evaluate_samples([real[:250], real[250:]])
  bad = evaluator.evaluate_samples([noise])
  assert good["fid"] * 20 < bad["fid"]
  assert good["precision"] > 0.7 and bad["precision"] < 0.1
  assert good["kid"] < bad["kid"]
  path = evaluator.reference_path(source.reference(1000))
  assert path.is_file()
  again = Evaluator(ev, source, "digits").reference()
  np.testing.assert_array_equal(
    again.stats.mean, evaluator.reference().stats.mean
  )


def test_data_in_0_1_scores_as_the_same_data_in_minus_1_1():
  """data.value_range=0,1: real and generated samples are in [0, 1], which
  the evaluator maps to the [-1, 1] the feature spaces and metrics take."""
  ev = _digits_eval(
    num_reference=1000, metrics="fid,kid,precision_recall,digit_modes"
  )
  values = {}
  for value_range in ("-1,1", "0,1"):
    source = data.build(config.DataConfig(value_range=value_range), 0)
    real = source.reference(1797)[1000:1500]
    evaluator = Evaluator(ev, source, "digits")
    values[value_range] = evaluator.evaluate_samples([real[:250], real[250:]])
  assert values["-1,1"]["fid"] < 20 and values["-1,1"]["modes"] == 10
  assert values["0,1"] == pytest.approx(values["-1,1"], rel=1e-4, abs=1e-6)


def test_inception_takes_0_and_1_of_data_in_0_1_as_black_and_white():
  signed = images.to_signed(np.array([0.0, 0.5, 1.0]), (0.0, 1.0))
  np.testing.assert_array_equal(
    inception_features.to_uint8(signed), [0, 128, 255]
  )


def test_mixture_modes_of_real_ring_samples():
  source = data.build("mog_ring", 0)
  ev = config.EvalConfig(features="none", metrics="mixture_modes")
  values = Evaluator(ev, source, "mog_ring").evaluate_samples(
    [source.reference(2500)]
  )
  assert values["modes"] == 8 and values["high_quality"] > 0.95
  assert values["reverse_kl"] < 0.01


@pytest.mark.parametrize(
  "changes,message",
  [
    ({"metrics": "fid,fjd"}, "'fjd', which is not registered"),
    (
      {"metrics": "fid", "best": "recall"},
      "eval.best='recall' is not computed",
    ),
    ({"metrics": "is"}, "needs class logits"),
    ({"metrics": "fid", "features": "none"}, "needs features"),
    ({"metrics": "", "every": 10}, "eval.metrics is empty"),
    ({"num_samples": 1}, "eval.num_samples=1 must be at least 2"),
    (
      {"metrics": "is", "features": "digits", "num_samples": 9},
      "'is', which needs eval.num_samples of at least 10",
    ),
    (
      {"metrics": "precision_recall", "num_reference": 3},
      "'precision_recall', which needs eval.num_reference of at least 4",
    ),
    (
      {"metrics": "density_coverage", "num_reference": 5},
      "'density_coverage', which needs eval.num_reference of at least 6",
    ),
    ({"features": "clip"}, "eval.features='clip' is not registered"),
    (
      {"metrics": "precision_recall", "best": "recall", "best_mode": "min"},
      "eval.best_mode=min would keep the worst recall",
    ),
  ],
)
def test_bad_eval_config_names_the_key(changes, message):
  cfg = config.Config()
  for k, v in changes.items():
    setattr(cfg.eval, k, v)
  with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
    config.validate(cfg)


def test_data_with_fewer_examples_than_a_metric_needs_is_refused_up_front():
  """The train command calls ``prepare`` before it writes anything, so this
  is one line, not a crash at the first evaluation."""

  class Five:  # A source of five real examples.
    example_shape = (8, 8, 1)

    def __len__(self):
      return 5

  ev = config.EvalConfig(metrics="fid,density_coverage", features="digits")
  with pytest.raises(
    ConfigError,
    match="'density_coverage', which needs at least 6 real examples, but "
    "data.name='five' has 5",
  ):
    Evaluator(ev, Five(), "five").prepare()
  ev.metrics = "fid,kid"
  assert Evaluator(ev, Five(), "five").prepare()


def _digits_uint8(start, stop):
  images = load_digits().images[start:stop] * (255 / 16)
  return np.rint(images).astype(np.uint8)[..., None]


def _main(capsys, *argv):
  code = evaluate.main(list(argv))
  captured = capsys.readouterr()
  return (
    code,
    captured.out.strip().splitlines(),
    captured.err.strip().splitlines(),
  )


def test_fid_command_prints_the_fid_of_two_files_last(
  capsys, tmp_path, monkeypatch
):
  # The command is the subject here; test_inception covers conv_impl.
  monkeypatch.setattr(inception_features, "resolve_conv_impl", lambda _: "xla")
  a, b = tmp_path / "a.npz", tmp_path / "b.npz"
  np.savez(a, images=_digits_uint8(0, 3))
  np.savez(b, _digits_uint8(3, 6))
  code, out, _ = _main(capsys, "fid", str(a), str(b), "--batch-size", "4")
  assert code == 0
  name, value = out[-1].split()
  assert name == "FID" and float(value) > 1
  extractor = inception_features.InceptionFeatures(batch_size=4)
  stats = [
    frechet.FeatureStats.of(extractor(x)["pool3"])
    for x in (_digits_uint8(0, 3), _digits_uint8(3, 6))
  ]
  assert float(value) == pytest.approx(frechet.fid_from_stats(*stats), rel=1e-5)
  npy = tmp_path / "a.npy"  # a bare .npy array is read as well
  np.save(npy, _digits_uint8(0, 3))
  np.testing.assert_array_equal(
    evaluate.load_images(str(npy)), evaluate.load_images(str(a))
  )


@pytest.mark.parametrize(
  "content,message",
  [
    (None, "does not exist"),
    ({"x": np.zeros((3, 8, 8, 1), np.float32)}, "expected uint8 images"),
    (
      {"a": np.zeros((3, 8, 8, 1), np.uint8), "b": np.zeros(3)},
      "save the images alone",
    ),
    ({"images": np.zeros((3, 8, 8, 2), np.uint8)}, "expected uint8 images"),
    ({"images": np.zeros((1, 8, 8, 1), np.uint8)}, "at least 2"),
  ],
)
def test_bad_image_file_is_one_line_exit_2(capsys, tmp_path, content, message):
  path = tmp_path / "bad.npz"
  if content is not None:
    np.savez(path, **content)
  code, out, err = _main(capsys, "fid", str(path), str(path))
  assert code == 2 and out == [] and len(err) == 1
  assert message in err[0]


def test_images_command_scores_against_a_dataset(capsys, tmp_path):
  path = tmp_path / "real.npz"
  np.savez(path, images=_digits_uint8(1000, 1400))
  code, out, _ = _main(
    capsys,
    "images",
    str(path),
    "--data",
    "digits",
    "eval.features=digits",
    "eval.metrics=fid,density_coverage",
  )
  assert code == 0 and out[-1].startswith("FID ")
  values = dict(line.split() for line in out[:-1])
  assert float(values["fid"]) < 20 and float(values["coverage"]) > 0.5
  code, _, err = _main(capsys, "images", str(path), "--data", "digitz")
  assert code == 2 and "data.name='digitz' is neither" in err[0]


def test_checkpoint_command_reproduces_the_logged_evaluation(
  capsys, tiny_digits, tmp_path
):
  tiny_digits.eval = _digits_eval(
    every=4, num_samples=200, metrics="fid,precision_recall", best="fid"
  )
  run.train(tiny_digits, tmp_path, progress=False)
  logged = {
    r["step"]: r["eval/fid"]
    for r in map(
      json.loads, (tmp_path / "metrics.jsonl").read_text().splitlines()
    )
    if "eval/fid" in r
  }
  assert sorted(logged) == [4, 8]
  best = min(logged, key=logged.get)
  for step, want in ((8, logged[8]), ("best", logged[best])):
    code, out, err = _main(
      capsys, "checkpoint", "--workdir", str(tmp_path), "--step", str(step)
    )
    assert code == 0, err
    assert float(out[-1].split()[1]) == pytest.approx(want, rel=1e-6)
  code, _, err = _main(
    capsys, "checkpoint", "--workdir", str(tmp_path / "none")
  )
  assert code == 2 and "holds no run" in err[0]
  code, _, err = _main(
    capsys, "checkpoint", "--workdir", str(tmp_path), "--step", "6"
  )
  assert code == 2 and err == [
    (
      f"error: no checkpoint 6 in {tmp_path / 'checkpoints'}; choose one with "
      "--step (saved: 4, 8)"
    )
  ]


def test_best_mode_auto_follows_the_metric():
  ev = config.EvalConfig(metrics="fid,precision_recall", best="recall")
  assert config.resolved_best_mode(ev) == "max"
  ev.best = "fid"
  assert config.resolved_best_mode(ev) == "min"


def test_a_diverged_generator_scores_nan_not_a_crash():
  source = data.build("digits", 0)
  ev = _digits_eval(num_reference=500)
  nan = np.full((100, 8, 8, 1), np.nan, np.float32)
  values = Evaluator(ev, source, "digits").evaluate_samples([nan])
  assert set(values) == {"fid", "kid", "kid_std", "precision", "recall"}
  assert all(np.isnan(v) for v in values.values())


def test_the_reference_cache_depends_on_the_feature_space_version(monkeypatch):
  from gan_jax.metrics import digits_classifier  # pylint: disable=g-import-not-at-top

  source = data.build("digits", 0)
  examples = source.reference(100)
  before = Evaluator(_digits_eval(), source, "digits").reference_path(examples)
  monkeypatch.setattr(digits_classifier, "VERSION", "another-recipe")
  after = Evaluator(_digits_eval(), source, "digits").reference_path(examples)
  assert before != after


def test_resume_past_a_saved_best_checkpoint_does_not_save_it_twice(
  tiny_digits, tmp_path
):
  tiny_digits.eval = _digits_eval(
    every=2, num_samples=100, metrics="fid", best="fid"
  )
  tiny_digits.steps, tiny_digits.checkpoint_every = 6, 4
  run.train(tiny_digits, tmp_path, progress=False)
  best_before = [p.name for p in (tmp_path / "best").iterdir()]
  # As if killed after evaluating step 6 but before checkpointing it.
  import shutil  # pylint: disable=g-import-not-at-top

  shutil.rmtree(tmp_path / "checkpoints" / "6")
  result = run.train(tiny_digits, tmp_path, progress=False)
  assert result.step == 6
  assert [p.name for p in (tmp_path / "best").iterdir()] == best_before


@pytest.mark.parametrize(
  "argv,message",
  [
    (["checkpoint", "--workdir", ".", "--step", "foo"], "not a step number"),
    (["fid", "a.npz", "b.npz", "--batch-size", "0"], "not a positive integer"),
  ],
)
def test_bad_arguments_exit_2(capsys, argv, message):
  with pytest.raises(SystemExit) as exit_info:
    evaluate.main(argv)
  assert exit_info.value.code == 2
  assert message in capsys.readouterr().err


@pytest.mark.parametrize(
  "text,message",
  [
    ("{not json", "config.json is not valid JSON; restore it"),
    ("[1, 2]", "config.json: config must be a mapping; restore the file"),
    ('{"model": {"newfield": 1}}', "config.json: unknown config key"),
  ],
)
def test_a_damaged_run_config_is_named_with_the_fix(
  capsys, tmp_path, text, message
):
  (tmp_path / "config.json").write_text(text)
  code, out, err = _main(capsys, "checkpoint", "--workdir", str(tmp_path))
  assert code == 2 and out == [] and len(err) == 1, err
  assert err[0].startswith(f"error: {tmp_path / message}"), err
  assert err[0].endswith(
    ("or pass the --workdir of another run", "that made the run")
  )
  assert (tmp_path / "config.json").read_text() == text


def _npz_cut_short(path):
  np.savez(path, images=np.zeros((4, 8, 8, 1), np.uint8))
  path.write_bytes(path.read_bytes()[:100])


@pytest.mark.parametrize(
  "make,message",
  [
    (lambda p: p.write_bytes(b""), "is empty; save np.uint8"),
    (
      lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n"),
      "is neither an .npz nor an .npy file; save np.uint8",
    ),
    (_npz_cut_short, "cannot be read ("),
    (
      lambda p: np.savez(p, images=np.array([None, 1], dtype=object)),
      "cannot be read (Object arrays cannot be loaded",
    ),
    (lambda p: p.mkdir(), "is a folder; pass an .npz"),
    (lambda p: np.savez(p), "holds []; save the images"),
  ],
)
def test_unreadable_image_files_are_one_line_exit_2(
  capsys, tmp_path, make, message
):
  bad, good = tmp_path / "bad.npz", tmp_path / "good.npz"
  make(bad)
  np.savez(good, images=np.zeros((4, 8, 8, 1), np.uint8))
  code, out, err = _main(capsys, "fid", str(bad), str(good))
  assert code == 2 and out == [] and len(err) == 1, err
  assert err[0].startswith(f"error: {bad} {message}"), err


def test_images_the_feature_space_cannot_take_are_one_line_exit_2(
  capsys, tmp_path
):
  path = tmp_path / "big.npz"
  np.savez(path, images=np.zeros((4, 16, 16, 1), np.uint8))
  code, out, err = _main(
    capsys, "images", str(path), "--data", "digits", "eval.features=digits"
  )
  assert code == 2 and out == [] and err[-1].startswith("error: ")
  assert "takes 8×8×1 images" in err[-1]


def test_checkpoint_command_writes_nothing_into_a_run(capsys, tmp_path):
  (tmp_path / "config.json").write_text(config.dumps(config.Config()))
  code, _, err = _main(
    capsys, "checkpoint", "--workdir", str(tmp_path), "--step", "best"
  )
  assert code == 2 and "does not exist" in err[0]
  assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


@pytest.mark.parametrize("flaw", ["fc", "conv"])
def test_a_pth_of_another_network_is_refused_and_the_cache_kept(
  flaw, monkeypatch, tmp_path
):
  monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path / "cache"))
  arrays = _pytorch_fid_state_dict(np.random.default_rng(0))
  if flaw == "fc":  # torchvision's Inception has 1,000 classes
    arrays["fc.weight"] = arrays["fc.weight"][:1000]
  else:
    arrays["Mixed_6b.branch1x1.conv.weight"] *= 1.01
  pth = tmp_path / "other.pth"
  torch_files.save_zip(pth, arrays)
  code = evaluate.main(["prepare-inception", "--pth", str(pth)])
  assert code == 2
  assert not (tmp_path / "cache" / inception_weights.LOGITS_FILE).exists()


def test_checkpoint_of_a_run_with_its_own_components(tmp_path):
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top

  root = os.path.dirname(os.path.dirname(__file__))
  experiment = os.path.join(root, "experiments", "custom_ring.py")
  cfg = config.load(experiment, ["steps=4", "eval.every=0"])
  run.train(cfg, tmp_path, progress=False)
  command = [sys.executable, "-m", "gan_jax.evaluate", "checkpoint",
             "--workdir", str(tmp_path), "eval.num_samples=500",
             "eval.batch_size=500", "eval.features=none",
             "eval.metrics=mixture_modes"]  # fmt: skip
  plain = subprocess.run(
    command, cwd=root, capture_output=True, text=True, check=False
  )
  assert plain.returncode == 2 and "not registered" in plain.stderr
  done = subprocess.run(
    command + ["--config", experiment],
    cwd=root,
    capture_output=True,
    text=True,
    check=False,
  )
  assert done.returncode == 0, done.stderr
  assert done.stdout.splitlines()[0].startswith("modes ")


def test_a_run_trained_on_two_devices_is_evaluated_on_one(
  capsys, tiny_digits, tmp_path
):
  """Evaluation rebuilds the run on one device, whatever it trained on, and
  takes the settings a resumed run may change: here data.dir, as if the
  data had moved. Both commands run where JAX sees a single CPU device."""
  import shutil  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top

  tiny_digits.parallel, tiny_digits.num_devices = "mesh", 2
  tiny_digits.steps, tiny_digits.data.dir = 4, str(tmp_path / "tfds")
  tiny_digits.eval = _digits_eval(every=4, num_samples=200, metrics="fid")
  workdir = tmp_path / "run"
  run.train(tiny_digits, workdir, progress=False)
  logged = json.loads((workdir / "metrics.jsonl").read_text().splitlines()[-1])
  shutil.move(tmp_path / "tfds", tmp_path / "moved")
  moved = f"data.dir={tmp_path / 'moved'}"

  root = os.path.dirname(os.path.dirname(__file__))
  env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}

  def command(*argv):
    return subprocess.run(
      [sys.executable, "-m", *argv],
      cwd=root,
      env=env,
      capture_output=True,
      text=True,
      check=False,
    )

  scored = command(
    "gan_jax.evaluate", "checkpoint", "--workdir", str(workdir), moved
  )
  assert scored.returncode == 0, scored.stderr
  fid = float(scored.stdout.splitlines()[-1].split()[1])
  assert fid == pytest.approx(logged["eval/fid"], rel=1e-6)
  drawn = command(
    "gan_jax.explore", "--workdir", str(workdir), "truncation", moved
  )
  assert drawn.returncode == 0, drawn.stderr
  assert (workdir / "explore" / "truncation_0000004.png").is_file()
  assert not (tmp_path / "tfds").exists()  # Read from where it moved.

  # A setting a resumed run may not change is refused, in one line.
  capsys.readouterr()
  code, out, err = _main(
    capsys, "checkpoint", "--workdir", str(workdir), moved, "model.width=16"
  )
  assert code == 2 and out == [] and len(err) == 1
  assert "resumed run may change" in err[0]
  assert "got 'model.width=16'" in err[0]


def test_a_run_of_a_custom_model_asks_for_its_experiment_file(tmp_path):
  cfg = config.Config()
  cfg.model.arch = "not_registered_here"
  (tmp_path / "config.json").write_text(config.dumps(cfg))
  with pytest.raises(ConfigError, match="pass that file with --config") as e:
    evaluate.restore_run(tmp_path)
  assert "'not_registered_here' is not registered" in str(e.value)
