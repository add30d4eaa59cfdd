"""Evaluation: feature spaces, metrics and the evaluator that joins them.

Metrics are pure functions of features (:mod:`gan_jax.metrics.frechet`,
``kid``, ``inception_score``, ``prdc``, ``modes``); :data:`METRICS` names them
for configs, :data:`FEATURE_SPACES` names what they are computed on.
"""

from gan_jax.metrics.feature_spaces import FEATURE_SPACES
from gan_jax.metrics.scores import METRICS, Metric, metric

__all__ = ["FEATURE_SPACES", "METRICS", "Metric", "metric", "metric_names"]


def metric_names(text: str) -> list[str]:
  """``"fid, kid"`` -> ``["fid", "kid"]``."""
  return [n.strip() for n in text.split(",") if n.strip()]
