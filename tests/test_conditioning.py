"""Class-conditional generation: labels from the data to both players, the
conditioning layers, the ACGAN loss, class grids and class metrics."""

import copy
import json
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import config, data, explore, keys, models, run, train
from gan_jax.data import tfds_source
from gan_jax.errors import ConfigError
from gan_jax.metrics import evaluator
from gan_jax.models import conditioning
from gan_jax.samples import grid_labels
from tests.helpers import png_size, setup


@pytest.fixture
def tiny_conditional(tiny_digits):
  tiny_digits.model.g_cond, tiny_digits.model.d_cond = "cbn", "projection"
  return tiny_digits


# ------------------------------------------------------------------ layers


def test_conditional_batchnorm_is_batchnorm_then_the_class_gain_and_bias():
  x = jax.random.normal(jax.random.key(0), (6, 4)) * 3 + 1
  y = jnp.array([0, 1, 2, 0, 1, 2])
  cbn = conditioning.ConditionalBatchNorm(num_classes=3)
  variables = cbn.init(jax.random.key(1), x, y, False)
  # At initialisation: plain BatchNorm (γ = 1, β = 0).
  out, _ = cbn.apply(variables, x, y, True, mutable=["batch_stats"])
  normed = (x - x.mean(0)) / jnp.sqrt(x.var(0) + 1e-5)
  np.testing.assert_allclose(out, normed, atol=1e-5)
  # With per-class γ and β: normed · γ[y] + β[y].
  gain = jnp.arange(12.0).reshape(3, 4)
  bias = -jnp.arange(12.0).reshape(3, 4) / 2
  params = {"Embed_0": {"embedding": gain}, "Embed_1": {"embedding": bias}}
  variables = {**variables, "params": params}
  out, _ = cbn.apply(variables, x, y, True, mutable=["batch_stats"])
  np.testing.assert_allclose(out, normed * gain[y] + bias[y], atol=1e-4)
  # Images: the gain and bias broadcast over height and width.
  images = jax.random.normal(jax.random.key(2), (3, 2, 2, 4))
  out, _ = cbn.apply(variables, images, y[:3], True, mutable=["batch_stats"])
  normed = (images - images.mean((0, 1, 2))) / jnp.sqrt(
    images.var((0, 1, 2)) + 1e-5
  )
  expected = normed * gain[y[:3], None, None] + bias[y[:3], None, None]
  np.testing.assert_allclose(out, expected, atol=1e-4)


def test_projection_is_the_inner_product_of_class_embedding_and_features():
  h = jax.random.normal(jax.random.key(0), (5, 7))
  y = jnp.array([3, 0, 1, 3, 2])
  proj = conditioning.Projection(num_classes=4)
  params = proj.init(jax.random.key(1), h, y, False)
  table = params["params"]["Embed_0"]["embedding"]
  out = proj.apply(params, h, y, False)
  np.testing.assert_allclose(out, np.sum(table[y] * h, -1), rtol=1e-5)


def _pair(arch, cond, data_shape, **overrides):
  cfg = config.ModelConfig(arch=arch, width=8, latent_dim=16, **overrides)
  cfg.g_cond, cfg.d_cond = ("cbn", cond) if cond != "none" else ("none", "none")
  return models.build(cfg, data_shape, num_classes=10 if cond != "none" else 0)


@pytest.mark.parametrize(
  "arch, shape", [("dcgan", (8, 8, 1)), ("resnet", (8, 8, 1)), ("mlp", (2,))]
)
def test_projection_discriminator_adds_its_class_term_to_the_plain_one(
  arch, shape
):
  """With a zero embedding the projection D is the unconditional D (same
  other parameters); with another, the label changes the output."""
  _, plain = _pair(arch, "none", shape)
  _, cond = _pair(arch, "projection", shape)
  x = jax.random.normal(jax.random.key(0), (4, *shape))
  y = jnp.array([0, 1, 2, 3])
  p_plain, s_plain = plain.init(jax.random.key(1), x)
  p_cond, s_cond = cond.init(jax.random.key(1), (x, y))
  table = p_cond["projection"]["Embed_0"]["embedding"]
  assert table.shape[0] == 10
  rest = {k: v for k, v in p_cond.items() if k != "projection"}
  assert jax.tree.structure(rest) == jax.tree.structure(p_plain)
  zero = {**rest, "projection": {"Embed_0": {"embedding": 0 * table}}}
  np.testing.assert_allclose(
    cond.apply(zero, s_cond, (x, y), False)[0],
    plain.apply(rest, s_plain, x, False)[0],
    rtol=1e-5,
    atol=1e-6,
  )
  a = cond.apply(p_cond, s_cond, (x, y), False)[0]
  b = cond.apply(p_cond, s_cond, (x, y + 4), False)[0]
  assert a.shape == (4,) and np.all(np.abs(a - b) > 1e-6)


@pytest.mark.parametrize("g_cond", ["cbn", "concat"])
@pytest.mark.parametrize("arch, shape", [("dcgan", (8, 8, 1)), ("mlp", (2,))])
def test_conditional_generator_draws_each_label_differently(
  g_cond, arch, shape
):
  cfg = config.ModelConfig(arch=arch, width=8, latent_dim=16)
  cfg.g_cond, cfg.d_cond = g_cond, "acgan"
  g, d = models.build(cfg, shape, num_classes=10)
  z = jnp.tile(jax.random.normal(jax.random.key(0), (1, 16)), (10, 1))
  y = jnp.arange(10)
  params, state = g.init(jax.random.key(1), (z, y))
  if g_cond == "cbn":  # γ starts at 1 for every class: give them their own.
    params = jax.tree_util.tree_map_with_path(
      lambda p, v: (
        v + 0.1 * jnp.arange(10.0)[:, None]
        if "ConditionalBatchNorm" in jax.tree_util.keystr(p)
        else v
      ),
      params,
    )
  fake, _ = g.apply(params, state, (z, y), False)
  assert fake.shape == (10, *shape)
  flat = np.asarray(fake).reshape(10, -1)
  assert min(np.abs(flat[i] - flat[0]).max() for i in range(1, 10)) > 1e-4
  # ACGAN's discriminator: adversarial logits and K class logits.
  d_params, d_state = d.init(jax.random.key(2), (fake, y))
  logits, class_logits = d.apply(d_params, d_state, (fake, y), False)[0]
  assert logits.shape == (10,) and class_logits.shape == (10, 10)


def test_spectral_norm_covers_the_class_embedding():
  """SNGAN normalises the projection's embedding too: the parameter stays
  the raw table, and the class term uses table / σ(table)."""
  h = jax.random.normal(jax.random.key(0), (5, 6))
  y = jnp.array([3, 0, 1, 3, 2])
  proj = conditioning.Projection(num_classes=4, spectral_norm=True)
  variables = proj.init(jax.random.key(1), h, y, False)
  params = jax.tree.map(lambda v: 3.0 * v, variables["params"])
  variables = {**variables, "params": params}  # σ well away from 1.
  for _ in range(30):  # Power iterations, as training makes them.
    _, stats = proj.apply(variables, h, y, True, mutable=["batch_stats"])
    variables = {**variables, **stats}
  table = variables["params"]["Embed_0"]["embedding"]
  sigma = np.linalg.svd(np.asarray(table), compute_uv=False)[0]
  assert sigma > 1.5  # So that normalising changes the value.
  out = proj.apply(variables, h, y, False)
  np.testing.assert_allclose(out, np.sum(table[y] / sigma * h, -1), rtol=1e-4)


# -------------------------------------------------------------------- data


def _pixels_to_sklearn(x):
  """Pipeline images in [-1, 1] back to scikit-learn's 0..16 values."""
  pixels = np.round((np.asarray(x) + 1) * 127.5)
  return np.round(pixels * 16 / 255).astype(int)


@pytest.mark.parametrize("in_memory", ["yes", "no"])
def test_digit_labels_follow_their_images(in_memory):
  from sklearn.datasets import load_digits

  digits = load_digits()
  label_of = {}
  for image, label in zip(digits.images.astype(int), digits.target):
    label_of.setdefault(image.tobytes(), set()).add(int(label))
  cfg = config.DataConfig(name="digits", in_memory=in_memory)
  source = tfds_source.TfdsSource(cfg, seed=3)
  assert source.num_classes == 10
  labelled = source.labelled_batches(64, data.Shard())
  plain = source.batches(64, data.Shard())
  for i in (0, 30, 57):  # 57 × 64 crosses the first epoch's end.
    batch = labelled[i]
    assert batch["y"].dtype == np.int32 and batch["y"].shape == (64,)
    np.testing.assert_array_equal(batch["x"], plain[i])
    for image, label in zip(_pixels_to_sklearn(batch["x"][..., 0]), batch["y"]):
      assert int(label) in label_of[image.tobytes()]


def test_mixture_labels_are_the_modes_of_the_points():
  ring = data.build("mog_ring", seed=0)
  assert ring.num_classes == 8
  batch = ring.labelled_batches(100, data.Shard(1, 2))[5]
  assert batch["x"].shape == (50, 2) and batch["y"].shape == (50,)
  np.testing.assert_array_equal(
    batch["x"], ring.batches(100, data.Shard(1, 2))[5]
  )
  dist = np.linalg.norm(batch["x"][:, None] - ring.centers[None], axis=-1)
  np.testing.assert_array_equal(dist.argmin(1), batch["y"])


# -------------------------------------------------------------------- step


def test_acgan_adds_the_weighted_class_cross_entropy_to_d_loss(tiny_digits):
  """Same state, batch and key: D's loss with weight w minus the loss with
  weight 0 is w × (CE on real + CE on fake)."""
  tiny_digits.parallel = "single"
  tiny_digits.model.g_cond, tiny_digits.model.d_cond = "concat", "acgan"
  metrics = {}
  for w in (0.0, 2.5):
    cfg = copy.deepcopy(tiny_digits)
    cfg.acgan_weight = w
    strategy, step_fn, state, source, root = setup(cfg)
    batch = next(run.pipeline(cfg, source, strategy.put_batch))
    assert batch["y"].shape == (1, 32)
    _, metrics[w] = jax.device_get(
      step_fn(state, batch, keys.step_key(root, 0))
    )
  class_loss = metrics[0.0]["d_class_loss"]
  assert class_loss == pytest.approx(metrics[2.5]["d_class_loss"], rel=1e-6)
  # Untrained: each cross-entropy is near log 10.
  assert 2 * np.log(10) * 0.7 < class_loss < 2 * np.log(10) * 1.3
  np.testing.assert_allclose(
    metrics[2.5]["d_loss"] - metrics[0.0]["d_loss"], 2.5 * class_loss, rtol=1e-4
  )
  for name in ("d_class_acc_real", "d_class_acc_fake", "g_class_loss"):
    assert np.isfinite(metrics[2.5][name])


@pytest.mark.parametrize(
  "d_cond, steps", [("projection", 400), ("acgan", 1000)]
)
def test_a_conditional_mixture_generator_learns_to_draw_the_asked_mode(
  tmp_path, d_cond, steps
):
  cfg = config.load(
    "experiments/mog_ring.py",
    [
      f"steps={steps}",
      "model.hidden=128",
      "model.depth=2",
      "model.g_cond=cbn",
      f"model.d_cond={d_cond}",
      f"eval.every={steps}",
      "eval.metrics=mixture_accuracy",
      "eval.num_samples=800",
      "eval.batch_size=800",
      f"sample_every={steps}",
      "log_every=100",
      f"checkpoint_every={steps}",
      # One device: for an MLP this small, a step over the four test
      # devices costs more in exchanges than in arithmetic.
      "parallel=single",
    ],
  )
  run.train(cfg, tmp_path, progress=False)
  evals = [
    json.loads(line)
    for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
    if "eval/class_accuracy" in line
  ]
  # Chance is 1/8; the generator draws the asked mode (measured: 1.0).
  assert evals[-1]["eval/class_accuracy"] > 0.9


# ---------------------------------------------------------- samples, grids


def test_sample_rows_and_evaluation_labels():
  np.testing.assert_array_equal(
    grid_labels(30, 3, cols=10), np.repeat([0, 1, 2], 10)
  )
  np.testing.assert_array_equal(grid_labels(4, 3, cols=1), [0, 1, 2, 0])
  labels = evaluator.balanced_labels(25, 10)
  np.testing.assert_array_equal(np.bincount(labels), [3] * 5 + [2] * 5)


def test_conditional_digits_run_scores_and_draws_class_rows(
  tiny_conditional, tmp_path
):
  cfg = tiny_conditional
  cfg.eval.every, cfg.eval.features = 8, "digits"
  cfg.eval.metrics = "fid,digit_accuracy,intra_fid"
  cfg.eval.num_samples = 200
  result = run.train(cfg, tmp_path, progress=False)
  assert result.step == 8
  last = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
  assert 0 <= last["eval/class_accuracy"] <= 1
  assert np.isfinite(last["eval/fid"])
  # Real digits of each class against the generated ones of that class
  # (the evaluation refuses to score it without the real labels).
  assert np.isfinite(last["eval/intra_fid"]) and last["eval/intra_fid"] > 0
  out = tmp_path / "classes.png"
  code = explore.main(
    ["--workdir", str(tmp_path), "--out", str(out), "classes", "--count", "4"]
  )
  assert code == 0
  # 10 rows (classes) × 4 columns of 8×8 digits enlarged to 32×32.
  assert png_size(out) == (4 * 33 + 1, 10 * 33 + 1)
  code = explore.main(
    ["--workdir", str(tmp_path), "classes", "--classes", "3,7", "--count", "2"]
  )
  assert code == 0
  made = tmp_path / "explore" / "classes_0000008.png"
  assert png_size(made) == (2 * 33 + 1, 2 * 33 + 1)
  assert (
    explore.main(["--workdir", str(tmp_path), "truncation", "--label", "10"])
    == 2
  )
  z, y = explore.class_latents("normal", 16, [3, 7], 2)
  np.testing.assert_array_equal(y, [3, 3, 7, 7])
  np.testing.assert_array_equal(z[:2], z[2:])


def test_class_grid_of_an_unconditional_run_is_refused(tiny_digits, tmp_path):
  tiny_digits.steps = tiny_digits.checkpoint_every = 4
  run.train(tiny_digits, tmp_path, progress=False)
  assert explore.main(["--workdir", str(tmp_path), "classes"]) == 2


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
  "overrides, message",
  [
    (["model.g_cond=cbn"], "conditions both players"),
    (["model.d_cond=acgan"], "conditions both players"),
    (
      ["model.g_cond=cbn", "model.d_cond=projection", "model.pack=2"],
      "model.pack=1 with conditioning",
    ),
    (["eval.metrics=digit_accuracy"], "scores a conditional generator"),
    (
      ["model.g_cond=cbn", "model.d_cond=acgan", "acgan_weight=-1"],
      "acgan_weight=-1.0 must be 0 or more",
    ),
  ],
)
def test_conditioning_config_errors(overrides, message):
  with pytest.raises(ConfigError, match=message):
    config.validate(config.apply_overrides(config.Config(), overrides))


def test_cbn_needs_the_generator_batchnorm(tiny_conditional):
  tiny_conditional.model.g_norm = "none"
  with pytest.raises(ConfigError, match="set model.g_norm=batch"):
    run.assemble(tiny_conditional)


def test_an_unconditional_custom_architecture_is_refused(tiny_conditional):
  @models.ARCHITECTURES.register("plain_for_conditioning_test")
  def build(cfg, data_shape, axis_name=None):
    return models.build_mlp(cfg, data_shape, axis_name)

  tiny_conditional.model.arch = "plain_for_conditioning_test"
  with pytest.raises(ConfigError, match="builds unconditional models"):
    run.assemble(tiny_conditional)


@pytest.mark.parametrize(
  "overrides, message",
  [
    (["data.name=stacked_digits"], "has no class-label feature 'label'"),
    (["data.label_key=image"], "set data.label_key to one of \\['label'\\]"),
  ],
)
def test_data_without_labels_is_one_line_and_exit_2(
  tmp_path, capsys, overrides, message
):
  code = train.main(
    [
      "--config",
      "experiments/cgan_digits.py",
      "--workdir",
      str(tmp_path / "run"),
      *overrides,
    ]
  )
  err = capsys.readouterr().err.strip()
  assert code == 2 and len(err.splitlines()) == 1
  assert re.search(message, err), err
  assert not (tmp_path / "run").exists()


def test_conditioning_module_names_are_stable():
  """Checkpoints name their parameters: the class tables live under
  ``projection`` and ``classifier``."""
  x, y = jnp.ones((2, 4)), jnp.array([0, 1])

  class D(nn.Module):
    cond: str

    @nn.compact
    def __call__(self, h):
      return conditioning.head(
        h,
        h.sum(-1),
        y,
        cond=self.cond,
        num_classes=3,
        spectral_norm=False,
        train=False,
      )

  assert set(D("projection").init(jax.random.key(0), x)["params"]) == {
    "projection"
  }
  assert set(D("acgan").init(jax.random.key(0), x)["params"]) == {"classifier"}


# ------------------------------------------------------------------ metrics


def test_intra_fid_is_the_mean_of_the_per_class_fids():
  from gan_jax.metrics import METRICS, frechet
  from gan_jax.metrics.feature_set import FeatureSet

  rng = np.random.default_rng(0)
  real = rng.normal(size=(60, 3))
  fake = rng.normal(size=(40, 3)) + [1.0, 0.0, 0.0]
  real_y, fake_y = np.arange(60) % 2, np.arange(40) % 2

  def fid(a, b):  # By hand: ‖μa − μb‖² + tr(Σa + Σb − 2(ΣaΣb)^½).
    from scipy import linalg

    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(ca @ cb).real
    return np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(ca + cb - 2 * root)

  expected = {c: fid(real[real_y == c], fake[fake_y == c]) for c in (0, 1)}
  per_class = frechet.intra_fid(real, real_y, fake, fake_y)
  assert per_class.keys() == {0, 1}
  for c in (0, 1):
    assert per_class[c] == pytest.approx(expected[c], rel=1e-6)
  # The metric: their mean; it refuses features it did not keep.
  r = FeatureSet(features=real, count=60, labels=real_y)
  f = FeatureSet(features=fake, count=40, labels=fake_y)
  value = METRICS["intra_fid"](r, f, None)["intra_fid"]
  assert value == pytest.approx((expected[0] + expected[1]) / 2, rel=1e-6)
  kept = FeatureSet(features=fake[:30], count=40, labels=fake_y)
  with pytest.raises(ValueError, match="raise eval.max_features to 40"):
    METRICS["intra_fid"](r, kept, None)
  with pytest.raises(ValueError, match="class 1 has 1 real"):
    frechet.intra_fid(real[:3], real_y[:3], fake, fake_y)


def test_class_accuracy_metrics_compare_predictions_with_the_labels():
  from gan_jax.metrics import METRICS
  from gan_jax.metrics.feature_set import FeatureSet

  ring = data.build("mog_ring", seed=0)
  points, labels = ring.labelled_sample(np.random.default_rng(1), 200)
  fake = FeatureSet(samples=points, count=200, labels=labels)
  score = METRICS["mixture_accuracy"](None, fake, ring)["class_accuracy"]
  assert score == 1.0
  fake.labels = (labels + 1) % 8
  assert METRICS["mixture_accuracy"](None, fake, ring)["class_accuracy"] == 0
  images, digits = data.digits.load()
  fake = FeatureSet(samples=images[:300], count=300, labels=digits[:300])
  score = METRICS["digit_accuracy"](None, fake, None)["class_accuracy"]
  assert score > 0.9  # The classifier's own accuracy on real digits.
  fake.labels = (digits[:300] + 1) % 10
  assert METRICS["digit_accuracy"](None, fake, None)["class_accuracy"] < 0.1
