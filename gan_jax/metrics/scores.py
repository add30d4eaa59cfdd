"""The metrics an eval config can name, each a pure function of two
:class:`~gan_jax.metrics.feature_set.FeatureSet` s and the data source.

A metric returns a dict of floats; ``keys`` says which, so a config can be
checked before a run starts (``eval.best`` must be one of them), as can the
data: ``source_problem(source)`` says what the metric needs that the data
source lacks, or ``None``. Register your own with::

  @METRICS.register("my_metric")
  @scores.metric(keys=("my_value",), needs="features")
  def my_metric(real, fake, source):
    return {"my_value": ...}
"""

import dataclasses
from collections.abc import Callable
from typing import Literal

from gan_jax.metrics import frechet, inception_score, kid, modes, prdc
from gan_jax.metrics.feature_set import FeatureSet
from gan_jax.registry import Registry

Needs = Literal["stats", "features", "logits", "samples"]


@dataclasses.dataclass(frozen=True)
class Metric:
  fn: Callable[[FeatureSet, FeatureSet, object], dict[str, float]]
  keys: tuple[str, ...]
  needs: Needs  # what the fake FeatureSet must hold
  higher_is_better: tuple[str, ...] = ()
  # The fake FeatureSet's ``labels``: the metric scores a conditional G.
  needs_labels: bool = False
  # The fewest generated samples and real examples it is defined for
  # (eval.num_samples and eval.num_reference are checked against them).
  min_samples: int = 2
  min_reference: int = 2
  # What it needs of the data source that ``source`` lacks, or None.
  source_problem: Callable[[object], str | None] | None = None

  def __call__(self, real, fake, source):
    return self.fn(real, fake, source)


def metric(
  keys,
  needs: Needs,
  higher_is_better=(),
  needs_labels=False,
  min_samples=2,
  min_reference=2,
  source_problem=None,
):
  return lambda fn: Metric(
    fn,
    tuple(keys),
    needs,
    tuple(higher_is_better),
    needs_labels,
    min_samples,
    min_reference,
    source_problem,
  )


IS_SPLITS = 10
PR_K, DC_K = 3, 5  # Nearest neighbours of precision/recall, density/coverage.


METRICS = Registry("metric")


@METRICS.register("fid")
@metric(keys=("fid",), needs="stats")
def fid(real, fake, source):
  del source
  return {"fid": frechet.fid_from_stats(real.stats, fake.stats)}


@METRICS.register("kid")
@metric(keys=("kid", "kid_std"), needs="features")
def kid_metric(real, fake, source):
  del source
  mean, std = kid.kernel_inception_distance(real.features, fake.features)
  return {"kid": mean, "kid_std": std}


@METRICS.register("is")
@metric(
  keys=("is", "is_std"),
  needs="logits",
  higher_is_better=("is",),
  min_samples=IS_SPLITS,  # One sample per split at least.
)
def is_metric(real, fake, source):
  del real, source
  mean, std = inception_score.inception_score(fake.logits, splits=IS_SPLITS)
  return {"is": mean, "is_std": std}


@METRICS.register("precision_recall")
@metric(
  keys=("precision", "recall"),
  needs="features",
  higher_is_better=("precision", "recall"),
  # Each side's k-th neighbour within itself.
  min_samples=PR_K + 1,
  min_reference=PR_K + 1,
)
def precision_recall(real, fake, source):
  del source
  p, r = prdc.precision_recall(real.features, fake.features, k=PR_K)
  return {"precision": p, "recall": r}


@METRICS.register("density_coverage")
@metric(
  keys=("density", "coverage"),
  needs="features",
  higher_is_better=("density", "coverage"),
  min_reference=DC_K + 1,  # The real side's k-th neighbour within itself.
)
def density_coverage(real, fake, source):
  del source
  d, c = prdc.density_coverage(real.features, fake.features, k=DC_K)
  return {"density": d, "coverage": c}


def _mixture(source) -> str | None:
  if hasattr(source, "centers"):
    return None
  return "needs a Gaussian-mixture data source (mog_ring, mog_grid)"


def _shape(shape, what):
  return lambda source: (
    None if tuple(source.example_shape) == shape else f"needs {what}"
  )


_digits = _shape((8, 8, 1), "8×8×1 digit images (data.name=digits)")
_stacked = _shape(
  (8, 8, 3), "three digits stacked as 8×8×3 (data.name=stacked_digits)"
)


@METRICS.register("mixture_modes")
@metric(
  keys=("modes", "high_quality", "reverse_kl"),
  needs="samples",
  higher_is_better=("modes", "high_quality"),
  source_problem=_mixture,
)
def mixture_modes(real, fake, source):
  del real
  _check_mixture(source, "mixture_modes")
  return modes.mixture_modes(fake.samples, source.centers, source.sigma)


@METRICS.register("stacked_modes")
@metric(
  keys=("modes", "reverse_kl"),
  needs="samples",
  higher_is_better=("modes",),
  source_problem=_stacked,
)
def stacked_modes(real, fake, source):
  del real, source
  return modes.stacked_digit_modes(fake.samples, _digits_classifier())


@METRICS.register("digit_modes")
@metric(
  keys=("modes", "reverse_kl"),
  needs="samples",
  higher_is_better=("modes",),
  source_problem=_digits,
)
def digit_modes(real, fake, source):
  del real, source
  return modes.digit_modes(fake.samples, _digits_classifier())


@METRICS.register("digit_accuracy")
@metric(
  keys=("class_accuracy",),
  needs="samples",
  higher_is_better=("class_accuracy",),
  needs_labels=True,
  source_problem=_digits,
)
def digit_accuracy(real, fake, source):
  """Of a conditional digits generator: the fraction of samples that the
  digits classifier reads as the digit they were generated for."""
  del real, source
  predicted = _digits_classifier().predict(fake.samples)
  return {"class_accuracy": modes.accuracy(predicted, fake.labels)}


@METRICS.register("intra_fid")
@metric(keys=("intra_fid",), needs="features", needs_labels=True)
def intra_fid(real, fake, source):
  """Of a conditional generator: the mean over classes of the FID between
  the real and the generated examples of each class (Miyato and Koyama
  2018). Needs every feature kept: eval.max_features ≥ eval.num_samples
  and the number of real examples."""
  del source
  for name, fs in (("real", real), ("generated", fake)):
    if fs.features is None or len(fs.features) < fs.count:
      raise ValueError(
        f"intra_fid needs every {name} feature, but eval.max_features keeps "
        f"{0 if fs.features is None else len(fs.features)} of {fs.count}; "
        f"raise eval.max_features to {fs.count} or more"
      )
  if real.labels is None:
    raise ValueError("intra_fid needs a data source with reference_labels")
  per_class = frechet.intra_fid(
    real.features, real.labels, fake.features, fake.labels
  )
  return {"intra_fid": float(sum(per_class.values()) / len(per_class))}


@METRICS.register("mixture_accuracy")
@metric(
  keys=("class_accuracy",),
  needs="samples",
  higher_is_better=("class_accuracy",),
  needs_labels=True,
  source_problem=_mixture,
)
def mixture_accuracy(real, fake, source):
  """Of a conditional 2-D mixture generator: the fraction of samples whose
  nearest mode is the mode (class) they were generated for."""
  del real
  _check_mixture(source, "mixture_accuracy")
  nearest = modes.nearest_center(fake.samples, source.centers)
  return {"class_accuracy": modes.accuracy(nearest, fake.labels)}


def _check_mixture(source, name: str) -> None:
  if problem := _mixture(source):
    raise ValueError(f"{name} {problem}")


def _digits_classifier():
  from gan_jax.metrics import digits_classifier  # pylint: disable=g-import-not-at-top

  return digits_classifier.load_classifier()
