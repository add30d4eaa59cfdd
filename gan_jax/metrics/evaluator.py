"""Evaluates a generator, or a set of samples, against a dataset.

The real side is computed once per (dataset, reference examples, feature
space, resize mode, count) and cached as ``.npz`` in the cache directory; the
generated side is streamed in batches from a fixed noise key, so every
evaluation of a run sees the same noise. A conditional generator makes
sample ``j`` of class ``j mod K``: the classes in equal numbers. Those
labels are kept (``FeatureSet.labels``) for metrics that check them.

Samples, real and generated, are in the data's value range
(:func:`gan_jax.data.value_range`: ``data.value_range=0,1`` makes it [0, 1]);
the evaluator maps them to [-1, 1] before the feature spaces and the
metrics, which take that range.
"""

import functools
import hashlib
import math
from collections.abc import Iterator

import jax
import numpy as np

from gan_jax import cache, images, latent
from gan_jax.data import source as data_source
from gan_jax.errors import ConfigError
from gan_jax.metrics import (
  FEATURE_SPACES,
  METRICS,
  feature_set,
  feature_spaces,
  metric_names,
)
from gan_jax.models.conditioning import inputs


class Evaluator:
  """``evaluate_*`` return ``{"fid": ..., "kid": ...}`` for ``cfg.metrics``."""

  def __init__(self, cfg, source, data_name: str, value_range=None):
    """``value_range``: of the samples it is given (default: the data's)."""
    self.cfg = cfg
    self.source = source
    self.data_name = data_name
    self.value_range = value_range or data_source.value_range(source)
    self.metrics = {n: METRICS[n] for n in metric_names(cfg.metrics)}
    needs = {m.needs for m in self.metrics.values()}
    self._real_labels = any(m.needs_labels for m in self.metrics.values())
    self._keep_logits = "logits" in needs
    self._keep_samples = "samples" in needs
    self._space = None
    self._reference = None

  @property
  def space(self):
    if self._space is None:
      self._space = FEATURE_SPACES[self.cfg.features](self.cfg)
    return self._space

  def prepare(self) -> "Evaluator":
    """Builds the feature space now (the Inception weights, the digits
    classifier) rather than at the first evaluation, so that missing
    weights raise their UserError before a run writes anything; likewise
    a dataset with fewer real examples than a metric needs, or examples
    that the feature space or a metric cannot take."""
    self._check_data()
    if hasattr(self.source, "__len__"):
      real = min(self.cfg.num_reference, len(self.source))
      for name, metric in self.metrics.items():
        if real < metric.min_reference:
          raise ConfigError(
            f"eval.metrics names {name!r}, which needs at least "
            f"{metric.min_reference} real examples, but data.name="
            f"{self.data_name!r} has {real}; drop {name!r}"
          )
    _ = self.space
    return self

  def _check_data(self) -> None:
    shape = tuple(self.source.example_shape)
    data = f"data.name={self.data_name!r}"
    features = self.cfg.features
    if problem := feature_spaces.input_problem(features, shape):
      fits = [  # The spaces that declare what they take, and take these.
        n
        for n, build in FEATURE_SPACES.items()
        if hasattr(build, "input_problem")
        and feature_spaces.input_problem(n, shape) is None
      ]
      fix = (
        f"set eval.features={' or '.join(fits)}"
        if fits
        else "register a feature space that takes them"
      )
      raise ConfigError(
        f"eval.features={features!r} {problem}, but {data} gives examples "
        f"of shape {shape}; {fix}"
      )
    for name, metric in self.metrics.items():
      if metric.source_problem and (
        problem := metric.source_problem(self.source)
      ):
        raise ConfigError(
          f"eval.metrics names {name!r}, which {problem}, but {data} "
          f"gives examples of shape {shape}; drop {name!r}"
        )

  def _collect(self, batches, *, fake: bool) -> feature_set.FeatureSet:
    return feature_set.collect(
      batches,
      self.space,
      max_features=self.cfg.max_features,
      keep_logits=fake and self._keep_logits,
      keep_samples=fake and self._keep_samples,
    )

  def reference_path(self, examples: np.ndarray):
    """Named by everything the real features depend on, including the
    feature space's ``version`` (its weights or classifier recipe)."""
    digest = hashlib.sha1(np.ascontiguousarray(examples).tobytes())
    digest.update(getattr(self.space, "version", "").encode())
    c = self.cfg
    name = (
      f"reference-{self.data_name}-{c.features}-{c.resize}-"
      f"{len(examples)}-{c.max_features}-{digest.hexdigest()[:12]}.npz"
    )
    return cache.cache_dir() / name

  def reference(self) -> feature_set.FeatureSet:
    """The real data's features; computed once, then read from the cache."""
    if self._reference is None:
      examples = self.source.reference(self.cfg.num_reference)
      examples = images.to_signed(examples, self.value_range)
      path = self.reference_path(examples)
      if path.is_file():
        self._reference = feature_set.load(path)
      else:
        step = self.cfg.batch_size
        chunks = (examples[i : i + step] for i in range(0, len(examples), step))
        self._reference = self._collect(chunks, fake=False)
        feature_set.save(path, self._reference)
      if self._real_labels and hasattr(self.source, "reference_labels"):
        self._reference.labels = self.source.reference_labels(len(examples))
    return self._reference

  def evaluate_samples(self, batches, labels=None) -> dict[str, float]:
    """Metrics of generated samples (float, as the generator makes them);
    ``labels``: the classes they were generated for, if conditional."""
    batches = (images.to_signed(b, self.value_range) for b in batches)
    fake = self._collect(batches, fake=True)
    fake.labels = None if labels is None else np.asarray(labels)
    if not _finite(fake):  # A diverged generator: NaN, not a crash.
      return {k: float("nan") for m in self.metrics.values() for k in m.keys}
    real = self.reference() if self.cfg.features != "none" else None
    values = {}
    for metric in self.metrics.values():
      values.update(
        {k: float(v) for k, v in metric(real, fake, self.source).items()}
      )
    return values

  def evaluate_generator(
    self,
    generator,
    g_params,
    g_state,
    key,
    *,
    latent_dist,
    latent_dim,
    num_classes=0,
  ) -> dict[str, float]:
    count = self.cfg.num_samples
    batches = generated_batches(
      generator,
      g_params,
      g_state,
      key,
      count=self.cfg.num_samples,
      batch_size=self.cfg.batch_size,
      latent_dist=latent_dist,
      latent_dim=latent_dim,
      num_classes=num_classes,
    )
    labels = balanced_labels(count, num_classes) if num_classes else None
    return self.evaluate_samples(batches, labels)


def _finite(fs: feature_set.FeatureSet) -> bool:
  arrays = [fs.features, fs.logits, fs.samples]
  if fs.stats is not None:
    arrays.append(fs.stats.mean)
  return all(np.isfinite(a).all() for a in arrays if a is not None)


def generated_batches(
  generator,
  g_params,
  g_state,
  key,
  *,
  count,
  batch_size,
  latent_dist,
  latent_dim,
  num_classes=0,
) -> Iterator[np.ndarray]:
  """``count`` samples in batches; batch ``i`` uses noise ``fold_in(key, i)``
  and, if conditional, the labels :func:`balanced_labels` gives its rows."""
  generate = _sampler(generator, batch_size, latent_dist, latent_dim)
  n = math.ceil(count / batch_size)
  labels = balanced_labels(n * batch_size, num_classes) if num_classes else None
  for i in range(n):
    y = (
      None if labels is None else labels[i * batch_size : (i + 1) * batch_size]
    )
    batch = generate(g_params, g_state, jax.random.fold_in(key, i), y)
    yield np.asarray(batch, np.float32)[: count - i * batch_size]


def balanced_labels(count: int, num_classes: int) -> np.ndarray:
  """The class of generated sample ``j``: ``j mod num_classes``."""
  return (np.arange(count) % num_classes).astype(np.int32)


@functools.lru_cache(maxsize=8)
def _sampler(generator, batch_size, latent_dist, latent_dim):
  """One compiled sampler per generator and batch shape, reused by evals."""

  @jax.jit
  def generate(params, state, key, y):
    z = latent.sample(latent_dist, key, batch_size, latent_dim)
    return generator.apply(params, state, inputs(z, y), False)[0]

  return generate
