"""Typed experiment configs: Python dataclasses, validated before anything runs.

An experiment is a Python file with a ``get_config()`` that returns a
:class:`Config`. Command-line overrides are ``dotted.key=value`` strings parsed
with the type of the field they set. Every problem raises :class:`ConfigError`
with one line naming the key, what was given and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import json
import math
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

from gan_jax.errors import ConfigError


@dataclasses.dataclass
class DataConfig:
  """Which data to train on, and how to read it.

  ``name``: a source of :mod:`gan_jax.data` or a TFDS dataset (``digits``,
  ``fashion_mnist``, ``cifar10``, a prepared image folder, ...). The other
  fields apply to TFDS datasets; see :mod:`gan_jax.data.preprocess`.
  """

  name: str = "digits"
  dir: str = ""  # TFDS data dir; "": $TFDS_DATA_DIR or ~/tensorflow_datasets.
  split: str = "train"
  image_key: str = "image"
  label_key: str = "label"  # Class labels, read by conditional models only.
  image_size: int = 0  # Resize to image_size² (0: as stored).
  crop: Literal["none", "center"] = "none"
  crop_size: int = 0  # crop=center: side of the square (0: the largest).
  resize: Literal["box", "bilinear", "bicubic", "lanczos"] = "bicubic"
  value_range: Literal["-1,1", "0,1"] = "-1,1"
  # Decode every example once and keep the uint8 pixels (auto: up to 1 GiB).
  in_memory: Literal["auto", "yes", "no"] = "auto"
  threads: int = 2  # grain reader threads.
  buffer: int = 8  # Steps' batches read ahead on the host.


@dataclasses.dataclass
class ModelConfig:
  """Generator and discriminator; ``arch`` is a key of :mod:`gan_jax.models`.

  The DCGAN pair takes its resolution and channels from the data.
  """

  arch: str = "dcgan"
  latent_dim: int = 100
  latent_dist: Literal["normal", "uniform"] = "normal"
  # DCGAN: channels of the layer next to the image; they double per block.
  width: int = 64
  # DCGAN: 3×3 stride-1 conv blocks added to G and to D (see models.dcgan).
  g_extra_layers: int = 0
  d_extra_layers: int = 0
  g_norm: Literal["batch", "none"] = "batch"
  d_norm: Literal["batch", "layer", "none"] = "batch"
  # Spectral normalisation of every discriminator layer (W/σ(W); the
  # power-iteration vector is model state).
  d_spectral_norm: bool = False
  # A discriminator layer that sees the batch, against mode collapse:
  # minibatch discrimination (Salimans et al. 2016) with minibatch_kernels
  # rows of minibatch_kernel_dim, or minibatch standard deviation (Karras et
  # al. 2018) over groups of minibatch_group samples.
  d_minibatch: Literal["none", "discrimination", "stddev"] = "none"
  minibatch_kernels: int = 50
  minibatch_kernel_dim: int = 5
  minibatch_group: int = 4
  # PacGAN: the discriminator judges packs of this many samples.
  pack: int = 1
  # Class-conditional generation (models.conditioning), on the data's labels
  # (data.label_key); both set or both none. G: conditional BatchNorm (cbn)
  # or one-hot labels appended to z (concat). D: the projection
  # discriminator (projection) or an auxiliary classifier (acgan, weighted
  # by acgan_weight).
  g_cond: Literal["none", "cbn", "concat"] = "none"
  d_cond: Literal["none", "projection", "acgan"] = "none"
  # ResNet (SNGAN): a self-attention block where feature maps are this size
  # (SAGAN), in G and in D; 0: none.
  attention_res: int = 0
  # MLP: hidden units and hidden layers of each network.
  hidden: int = 256
  depth: int = 3
  # BatchNorm running-average momentum (0.9 is PyTorch's 0.1).
  bn_momentum: float = 0.9
  # DCGAN: how convolutions are computed, with the same parameters and
  # results: `matmul` (stride-1 rewrites + one matrix multiplication, fast
  # on XLA:CPU), `winograd` (matmul, with Winograd's F(2, m) where that
  # needs fewer multiplications and pays: the fastest on XLA:CPU), `xla`
  # (XLA's convolutions), or `auto` (winograd on CPU, xla elsewhere).
  conv_impl: Literal["auto", "winograd", "matmul", "xla"] = "auto"
  # DCGAN: computation dtype. `bfloat16` is mixed precision: parameters,
  # optimizer state, BatchNorm statistics and losses stay float32.
  precision: Literal["float32", "bfloat16"] = "float32"


@dataclasses.dataclass
class OptimizerConfig:
  """One player's optimizer; ``name`` is a key of :mod:`gan_jax.optimizers`."""

  name: str = "adam"
  lr: float = 2e-4
  b1: float = 0.5
  b2: float = 0.999


@dataclasses.dataclass
class EvalConfig:
  """Evaluation during training and by ``python -m gan_jax.evaluate``.

  ``metrics`` are comma-separated keys of :data:`gan_jax.metrics.METRICS`,
  computed in the ``features`` space (:mod:`gan_jax.metrics.feature_spaces`).
  """

  every: int = 0  # Steps between evaluations; 0: only by the eval command.
  metrics: str = "fid"
  # A key of gan_jax.metrics.FEATURE_SPACES: inception, digits, points, none.
  features: str = "inception"
  num_samples: int = 10_000  # Generated samples per evaluation.
  num_reference: int = 10_000  # Real examples (fewer if the data is smaller).
  max_features: int = 10_000  # Kept for KID, precision/recall, coverage.
  batch_size: int = 100
  resize: Literal["tf_bilinear", "bilinear"] = "tf_bilinear"
  inception_logits: bool = False  # Needs pytorch-fid's weights (for "is").
  # Keep the checkpoint with the best value of this metric key (e.g. fid)
  # in <workdir>/best, among the evaluations made every ``every`` steps.
  best: str = ""
  # auto: max for keys a metric marks higher-is-better (is, precision,
  # recall, density, coverage, modes, high_quality), else min.
  best_mode: Literal["auto", "min", "max"] = "auto"


@dataclasses.dataclass
class Config:
  """Everything a run depends on, together with the seed."""

  data: DataConfig = dataclasses.field(default_factory=DataConfig)
  model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
  g_optimizer: OptimizerConfig = dataclasses.field(
    default_factory=OptimizerConfig
  )
  d_optimizer: OptimizerConfig = dataclasses.field(
    default_factory=OptimizerConfig
  )
  loss: str = "non_saturating"
  seed: int = 0
  steps: int = 1000
  batch_size: int = 64
  # Discriminator updates per generator update; each takes a fresh real batch.
  n_critic: int = 1
  # The generator update on the last discriminator update's fakes, back
  # through that generator pass, as in PyTorch's DCGAN example: one
  # generator forward pass fewer per step. False: new noise, a new pass.
  reuse_fakes: bool = False
  # Train steps per compiled call (lax.scan over batches already on the
  # device): fewer host round trips for small models. The same keys and
  # data as one step per call, so the same results (to float32 rounding
  # where XLA compiles the step differently inside the scan); the *_every
  # intervals and eval.every must be multiples of it.
  steps_per_call: int = 1
  # Discriminator regularizers and their weights, "name=weight,...": gp,
  # gp_one_sided, r1, r2, dragan, bcr, lecam (gan_jax.regularizers).
  regularizers: str = ""
  # ACGAN (model.d_cond=acgan): weight of the auxiliary classifier's cross-
  # entropy, on real and fake in D's loss and on fake in G's.
  acgan_weight: float = 1.0
  # Lazy regularization: penalties every reg_every steps, weighted ×reg_every.
  reg_every: int = 1
  # The original WGAN: clip D's parameters to [-c, c] after each update (0: off).
  d_weight_clip: float = 0.0
  # DiffAugment policy applied to all D inputs, e.g. "color,translation,cutout".
  augment: str = ""
  # Probability of each augmentation per sample; with ada_target > 0 the
  # start of ADA's adaptive probability (Karras et al. 2020: 0 and 0.6).
  augment_p: float = 1.0
  ada_target: float = 0.0  # 0: fixed augment_p.
  ada_kimg: float = 500.0  # p may cross [0, 1] in this many thousand images.
  # Moving average of G's parameters for samples and evaluation (0: off;
  # e.g. 0.999).
  g_ema_decay: float = 0.0
  # Stop with an error, keeping the last good checkpoint, when a logged loss
  # is NaN or infinite or its magnitude exceeds this (0: only NaN/infinity).
  divergence_limit: float = 1e6
  # Data parallelism: jit over a mesh of devices (the default), pmap, or
  # jit on a single device.
  parallel: Literal["mesh", "pmap", "single"] = "mesh"
  num_devices: int = 0  # 0: every local device (mesh, pmap).
  log_every: int = 50
  sample_every: int = 500
  checkpoint_every: int = 1000
  keep_checkpoints: int = 3
  eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)


# Keys that may change between a run and its resumption. Checkpoints hold
# one copy of the state whatever the strategy, so a run may continue on
# other devices (equal up to the order of sums, not bitwise; under pmap the
# random draws of augmentations and random regularizers differ too).
RESUMABLE_CHANGES = frozenset(
  {
    "steps",
    "log_every",
    "sample_every",
    "checkpoint_every",
    "keep_checkpoints",
    "parallel",
    "num_devices",
    "model.conv_impl",
    "divergence_limit",
    "data.dir",
    "data.threads",
    "data.buffer",
    "data.in_memory",
  }
) | {f"eval.{f.name}" for f in dataclasses.fields(EvalConfig)}


def to_dict(cfg: Config) -> dict[str, Any]:
  return dataclasses.asdict(cfg)


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update(flatten(v, f"{prefix}{k}."))
    else:
      out[prefix + k] = v
  return out


# ---------------------------------------------------------------- overrides


def _field_types(cls) -> dict[str, Any]:
  return typing.get_type_hints(cls)


def _parse_value(key: str, text: str, typ: Any) -> Any:
  """Parses ``text`` as a value of ``typ`` or raises ConfigError."""
  if typing.get_origin(typ) is Literal:
    allowed = typing.get_args(typ)
    if text not in allowed:
      raise ConfigError(
        f"{key}={text!r} is not allowed; choose one of "
        f"{', '.join(map(str, allowed))}"
      )
    return text
  if typ is bool:
    low = text.lower()
    if low in ("true", "1", "yes"):
      return True
    if low in ("false", "0", "no"):
      return False
    raise ConfigError(f"{key}={text!r} is not a bool; use true or false")
  if typ is int:
    try:
      return int(text)
    except ValueError:
      raise ConfigError(f"{key}={text!r} is not an integer") from None
  if typ is float:
    try:
      return float(text)
    except ValueError:
      raise ConfigError(f"{key}={text!r} is not a number") from None
  if typ is str:
    return text
  raise ConfigError(f"{key} cannot be set from the command line")


def _unknown_key(key: str, known: list[str]) -> ConfigError:
  close = difflib.get_close_matches(key, known, n=1)
  hint = (
    f"; did you mean {close[0]!r}?"
    if close
    else (f"; known keys: {', '.join(sorted(known))}")
  )
  return ConfigError(f"unknown config key {key!r}{hint}")


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
  """Returns a copy of ``cfg`` with ``dotted.key=value`` overrides applied."""
  cfg = _copy(cfg)
  known = list(flatten(to_dict(cfg)))
  for item in overrides:
    key, sep, text = item.partition("=")
    if not sep or not key:
      raise ConfigError(
        f"override {item!r} is not of the form key=value, e.g. steps=200"
      )
    key = key.strip()
    if key not in known:
      raise _unknown_key(key, known)
    *parents, leaf = key.split(".")
    node = cfg
    for p in parents:
      node = getattr(node, p)
    typ = _field_types(type(node))[leaf]
    setattr(node, leaf, _parse_value(key, text.strip(), typ))
  return cfg


def _copy(cfg: Config) -> Config:
  return from_dict(to_dict(cfg))


def from_dict(d: dict[str, Any], cls=Config, prefix: str = "") -> Any:
  """Builds a config dataclass from a (JSON) dict, checking keys and types."""
  if not isinstance(d, dict):
    raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping")
  hints = _field_types(cls)
  kwargs = {}
  for k, v in d.items():
    if k not in hints:
      raise _unknown_key(prefix + k, [prefix + n for n in hints])
    typ = hints[k]
    if dataclasses.is_dataclass(typ):
      kwargs[k] = from_dict(v, typ, f"{prefix}{k}.")
    else:
      kwargs[k] = v
  return cls(**kwargs)


# --------------------------------------------------------------- validation


def _type_name(typ: Any) -> str:
  if typing.get_origin(typ) is Literal:
    return "one of " + ", ".join(map(str, typing.get_args(typ)))
  return getattr(typ, "__name__", str(typ))


def _check_fields(node: Any, prefix: str = "") -> None:
  """An experiment file that sets a misspelt field (``cfg.model.widht = 8``)
  adds an attribute that nothing reads: refused like an unknown override."""
  names = [f.name for f in dataclasses.fields(node)]
  for name in vars(node):
    if name not in names:
      raise _unknown_key(prefix + name, [prefix + n for n in names])
  for name in names:
    value = getattr(node, name)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
      _check_fields(value, f"{prefix}{name}.")


def _check_types(node: Any, prefix: str = "") -> None:
  for f in dataclasses.fields(node):
    typ = _field_types(type(node))[f.name]
    value = getattr(node, f.name)
    key = prefix + f.name
    if dataclasses.is_dataclass(typ):
      if not isinstance(value, typ):
        raise ConfigError(
          f"{key} must be a {typ.__name__}, got {type(value).__name__}"
        )
      _check_types(value, key + ".")
      continue
    if typing.get_origin(typ) is Literal:
      ok = value in typing.get_args(typ)
    elif typ is float:
      ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif typ is int:
      ok = isinstance(value, int) and not isinstance(value, bool)
    else:
      ok = isinstance(value, typ)
    if not ok:
      raise ConfigError(
        f"{key}={value!r} has the wrong type; expected {_type_name(typ)}"
      )


def _require(ok: bool, message: str) -> None:
  if not ok:
    raise ConfigError(message)


def validate(cfg: Config) -> Config:
  """Checks types, registered names and value ranges; returns ``cfg``."""
  # Imported here: the registries import this module's dataclasses.
  from gan_jax import losses, models, optimizers  # pylint: disable=g-import-not-at-top

  _check_fields(cfg)
  _check_types(cfg)
  for key, registry in (
    ("model.arch", models.ARCHITECTURES),
    ("loss", losses.LOSSES),
    ("g_optimizer.name", optimizers.OPTIMIZERS),
    ("d_optimizer.name", optimizers.OPTIMIZERS),
  ):
    value = flatten(to_dict(cfg))[key]
    _require(
      value in registry,
      f"{key}={value!r} is not registered; choose one of "
      f"{', '.join(sorted(registry))} or register your own",
    )
  positive = (
    "steps",
    "batch_size",
    "n_critic",
    "steps_per_call",
    "log_every",
    "sample_every",
    "checkpoint_every",
    "keep_checkpoints",
    "model.latent_dim",
    "model.width",
    "model.hidden",
    "model.depth",
    "model.minibatch_kernels",
    "model.minibatch_kernel_dim",
    "model.minibatch_group",
    "model.pack",
  )
  flat = flatten(to_dict(cfg))
  for key in positive:
    _require(flat[key] >= 1, f"{key}={flat[key]} must be at least 1")
  for key in (
    "model.g_extra_layers",
    "model.d_extra_layers",
    "data.image_size",
    "data.crop_size",
    "data.threads",
    "data.buffer",
  ):
    _require(flat[key] >= 0, f"{key}={flat[key]} must be 0 or more")
  _require(
    cfg.num_devices >= 0,
    f"num_devices={cfg.num_devices} must be 0 (all) or a count",
  )
  _require(0 <= cfg.seed < 2**32, f"seed={cfg.seed} must be in [0, 2**32)")
  _require(
    0.0 <= cfg.model.bn_momentum < 1.0,
    f"model.bn_momentum={cfg.model.bn_momentum} must be in [0, 1)",
  )
  _validate_eval(cfg.eval)
  _validate_techniques(cfg)
  _validate_conditioning(cfg)
  k = cfg.steps_per_call
  for key in (
    "steps",
    "log_every",
    "sample_every",
    "checkpoint_every",
    "eval.every",
  ):
    _require(
      flat[key] % k == 0,
      f"{key}={flat[key]} is not a multiple of steps_per_call={k}; "
      f"make it one (or steps_per_call=1)",
    )
  for name in ("g_optimizer", "d_optimizer"):
    opt = getattr(cfg, name)
    _require(
      opt.lr > 0 and math.isfinite(opt.lr),
      f"{name}.lr={opt.lr} must be a positive number",
    )
    for b in ("b1", "b2"):
      _require(
        0.0 <= getattr(opt, b) < 1.0,
        f"{name}.{b}={getattr(opt, b)} must be in [0, 1)",
      )
  return cfg


def _validate_techniques(cfg: Config) -> None:
  from gan_jax import augment, regularizers  # pylint: disable=g-import-not-at-top

  try:
    regularizers.parse(cfg.regularizers)
  except ValueError as e:
    raise ConfigError(f"regularizers={cfg.regularizers!r}: {e}") from None
  try:
    augment.policy(cfg.augment)
  except ValueError as e:
    raise ConfigError(f"augment={cfg.augment!r}: {e}") from None
  _require(cfg.reg_every >= 1, f"reg_every={cfg.reg_every} must be at least 1")
  _require(
    0.0 <= cfg.augment_p <= 1.0,
    f"augment_p={cfg.augment_p} must be a probability in [0, 1]",
  )
  _require(
    0.0 <= cfg.ada_target < 1.0,
    f"ada_target={cfg.ada_target} must be in [0, 1) (0: off; ADA uses 0.6)",
  )
  _require(
    not cfg.ada_target or cfg.augment,
    f"ada_target={cfg.ada_target} adapts the probability of augment, which "
    'is empty; set augment="color,translation,cutout" or ada_target=0',
  )
  _require(cfg.ada_kimg > 0, f"ada_kimg={cfg.ada_kimg} must be positive")
  _require(
    cfg.batch_size % cfg.model.pack == 0,
    f"batch_size={cfg.batch_size} does not divide into packs of "
    f"model.pack={cfg.model.pack}; make batch_size a multiple of it",
  )
  _require(
    cfg.d_weight_clip >= 0,
    f"d_weight_clip={cfg.d_weight_clip} must be 0 (off) or a positive limit",
  )
  _require(
    0.0 <= cfg.g_ema_decay < 1.0,
    f"g_ema_decay={cfg.g_ema_decay} must be in [0, 1) (0: off)",
  )
  _require(
    cfg.divergence_limit >= 0,
    f"divergence_limit={cfg.divergence_limit} must be 0 (NaN only) or more",
  )


def _validate_conditioning(cfg: Config) -> None:
  from gan_jax.metrics import METRICS, metric_names  # pylint: disable=g-import-not-at-top

  m = cfg.model
  _require(
    (m.g_cond == "none") == (m.d_cond == "none"),
    f"model.g_cond={m.g_cond} and model.d_cond={m.d_cond}: a conditional "
    "run conditions both players; set both (e.g. cbn and projection) or "
    "both to none",
  )
  _require(
    m.pack == 1 or m.d_cond == "none",
    f"model.pack={m.pack} would pack samples of different classes into one "
    "discriminator input; use model.pack=1 with conditioning",
  )
  _require(
    cfg.acgan_weight >= 0,
    f"acgan_weight={cfg.acgan_weight} must be 0 or more",
  )
  for name in metric_names(cfg.eval.metrics):
    _require(
      not METRICS[name].needs_labels or conditional(cfg),
      f"eval.metrics names {name!r}, which scores a conditional generator; "
      "set model.g_cond and model.d_cond, or drop it",
    )


def best_direction(ev: EvalConfig) -> str | None:
  """``"max"`` or ``"min"`` for ``ev.best``, as its metric declares it."""
  from gan_jax.metrics import METRICS, metric_names  # pylint: disable=g-import-not-at-top

  for name in metric_names(ev.metrics):
    metric = METRICS.get(name)
    if metric is not None and ev.best in metric.keys:
      return "max" if ev.best in metric.higher_is_better else "min"
  return None


def conditional(cfg: Config) -> bool:
  """Whether the run generates from class labels (model.g_cond/d_cond)."""
  return cfg.model.d_cond != "none"


def resolved_best_mode(ev: EvalConfig) -> str:
  """``ev.best_mode`` with ``auto`` resolved from the metric."""
  if ev.best_mode != "auto":
    return ev.best_mode
  return best_direction(ev) or "min"


def _validate_eval(ev: EvalConfig) -> None:
  from gan_jax.metrics import FEATURE_SPACES, METRICS, metric_names  # pylint: disable=g-import-not-at-top

  for key in ("num_samples", "num_reference", "max_features", "batch_size"):
    _require(
      getattr(ev, key) >= 2, f"eval.{key}={getattr(ev, key)} must be at least 2"
    )
  _require(ev.every >= 0, f"eval.every={ev.every} must be 0 (never) or more")
  _require(
    ev.features in FEATURE_SPACES,
    f"eval.features={ev.features!r} is not registered; choose one of "
    f"{', '.join(sorted(FEATURE_SPACES))} or register your own",
  )
  names = metric_names(ev.metrics)
  _require(
    bool(names) or not ev.every,
    "eval.every is set but eval.metrics is empty; name metrics such "
    "as eval.metrics=fid,kid",
  )
  keys = set()
  for name in names:
    _require(
      name in METRICS,
      f"eval.metrics names {name!r}, which is not "
      f"registered; choose from {', '.join(sorted(METRICS))}",
    )
    metric = METRICS[name]
    keys.update(metric.keys)
    for count, least in (
      ("num_samples", metric.min_samples),
      ("num_reference", metric.min_reference),
    ):
      _require(
        getattr(ev, count) >= least,
        f"eval.metrics names {name!r}, which needs eval.{count} of at least "
        f"{least}; raise eval.{count}={getattr(ev, count)} or drop {name!r}",
      )
    if metric.needs in ("stats", "features"):
      _require(
        ev.features != "none",
        f"metric {name!r} needs features; set "
        "eval.features to inception, digits or points",
      )
    if metric.needs == "logits":
      _require(
        ev.features == "digits" or ev.inception_logits,
        f"metric {name!r} needs class logits; use "
        "eval.features=digits or eval.inception_logits=true",
      )
  _require(
    not ev.best or ev.best in keys,
    f"eval.best={ev.best!r} is not computed by eval.metrics="
    f"{ev.metrics!r}; choose one of {', '.join(sorted(keys)) or '—'}",
  )
  wanted = best_direction(ev) if ev.best else None
  _require(
    ev.best_mode in ("auto", wanted) or wanted is None,
    f"eval.best_mode={ev.best_mode} would keep the worst {ev.best}; use "
    f"eval.best_mode={wanted} or auto",
  )


# ------------------------------------------------------------------ loading


def load(path: str | Path, overrides: list[str] = ()) -> Config:
  """Loads ``get_config()`` from an experiment file, overrides, validates."""
  path = Path(path)
  if path.is_dir():
    raise ConfigError(
      f"config {str(path)!r} is a folder; pass an experiment file such as "
      "experiments/dcgan_digits.py"
    )
  if not path.is_file():
    raise ConfigError(
      f"config file {str(path)!r} does not exist; pass an "
      "experiment file such as experiments/dcgan_digits.py"
    )
  module = import_experiment(path)
  get_config = getattr(module, "get_config", None)
  if not callable(get_config):
    raise ConfigError(
      f"{path} defines no get_config(); add one that returns "
      "a gan_jax.config.Config"
    )
  try:
    cfg = get_config()
  except ConfigError:
    raise
  except Exception as e:  # noqa: BLE001  (any error in user code)
    raise _failed(path, "get_config() failed", e) from None
  if not isinstance(cfg, Config):
    raise ConfigError(
      f"{path}: get_config() returned "
      f"{type(cfg).__name__}, not a gan_jax.config.Config"
    )
  _check_fields(cfg)  # Before the overrides' copy, which drops unknowns.
  return validate(apply_overrides(cfg, list(overrides)))


# The prefix of an imported experiment file's name in sys.modules.
EXPERIMENT_MODULE = "gan_jax_experiment_"


def import_experiment(path: Path) -> types.ModuleType:
  """Imports an experiment file once per process, keyed by its real path.

  Experiment files register their own components when imported; importing
  one again would register them twice.
  """
  name = EXPERIMENT_MODULE + str(path.resolve())
  if name in sys.modules:
    return sys.modules[name]
  spec = importlib.util.spec_from_file_location(name, path)
  if path.suffix != ".py" or spec is None:
    raise ConfigError(
      f"{path} is not an experiment file; pass a Python file "
      "with get_config(), such as experiments/dcgan_digits.py"
    )
  module = importlib.util.module_from_spec(spec)
  sys.modules[name] = module
  try:
    spec.loader.exec_module(module)
  except SyntaxError as e:
    del sys.modules[name]
    raise ConfigError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
  except ConfigError:
    del sys.modules[name]
    raise
  except Exception as e:  # noqa: BLE001  (any error in user code)
    del sys.modules[name]
    raise _failed(path, "failed to load", e) from None
  return module


def _failed(path: Path, what: str, error: Exception) -> ConfigError:
  """One line for an exception raised by the user's experiment file."""
  lines = str(error).strip().splitlines()
  detail = f": {lines[0]}" if lines else ""
  return ConfigError(f"{path} {what}: {type(error).__name__}{detail}")


def dumps(cfg: Config) -> str:
  return json.dumps(to_dict(cfg), indent=2, sort_keys=True) + "\n"
