"""What an evaluation keeps of a stream of samples, batch by batch.

The mean and covariance of the features are accumulated exactly
(:class:`~gan_jax.metrics.frechet.FeatureStats`), so FID covers every sample.
KID, precision/recall and density/coverage need the features themselves:
the first ``max_features`` are kept. Logits (Inception Score) and raw samples
(mode counts) are kept only when a metric needs them. Images are dropped as
soon as their features are taken.
"""

import dataclasses
from collections.abc import Callable, Iterable

import numpy as np

from gan_jax import cache
from gan_jax.metrics.frechet import FeatureStats


def as_pair(real, fake) -> tuple[np.ndarray, np.ndarray]:
  """Real and generated features as float64 (n, d) arrays of the same d."""
  real = np.asarray(real, np.float64)
  fake = np.asarray(fake, np.float64)
  if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
    raise ValueError(
      "real and fake must have shapes (n, d) with the same d, got "
      f"{real.shape} and {fake.shape}"
    )
  return real, fake


@dataclasses.dataclass
class FeatureSet:
  stats: FeatureStats | None = None
  features: np.ndarray | None = None  # (min(N, max_features), D)
  logits: np.ndarray | None = None  # (N, K)
  samples: np.ndarray | None = None  # (N, ...)
  count: int = 0
  labels: np.ndarray | None = None  # (N,) classes asked of a conditional G


def collect(
  batches: Iterable[np.ndarray],
  space: Callable[[np.ndarray], dict[str, np.ndarray]],
  *,
  max_features: int,
  keep_logits: bool = False,
  keep_samples: bool = False,
) -> FeatureSet:
  """Streams ``batches`` of samples through a feature space."""
  stats, kept, logits, samples, count = None, [], [], [], 0
  for batch in batches:
    batch = np.asarray(batch)
    out = space(batch)
    count += len(batch)
    if "features" in out:
      f = np.asarray(out["features"], np.float32)
      stats = (stats or FeatureStats.empty(f.shape[1])).update(f)
      room = max_features - sum(len(k) for k in kept)
      if room > 0:
        kept.append(f[:room])
    if keep_logits:
      if "logits" not in out:
        raise ValueError("this feature space gives no logits")
      logits.append(np.asarray(out["logits"], np.float32))
    if keep_samples:
      samples.append(batch)
  return FeatureSet(
    stats=stats,
    features=np.concatenate(kept) if kept else None,
    logits=np.concatenate(logits) if logits else None,
    samples=np.concatenate(samples) if samples else None,
    count=count,
  )


def save(path, fs: FeatureSet) -> None:
  """Writes a reference FeatureSet (stats and kept features) to ``.npz``."""
  arrays = {"count": np.asarray(fs.count)}
  if fs.stats is not None:
    arrays |= {
      "stats_count": np.asarray(fs.stats.count),
      "stats_mean": fs.stats.mean,
      "stats_m2": fs.stats.m2,
      "features": fs.features,
    }
  for name in ("logits", "samples"):
    if getattr(fs, name) is not None:
      arrays[name] = getattr(fs, name)
  cache.save_npz(path, arrays)


def load(path) -> FeatureSet:
  z = cache.load_npz(path, "the next evaluation computes it again")
  stats = None
  if "stats_mean" in z:
    stats = FeatureStats(
      count=int(z["stats_count"]), mean=z["stats_mean"], m2=z["stats_m2"]
    )
  return FeatureSet(
    stats=stats,
    features=z.get("features"),
    logits=z.get("logits"),
    samples=z.get("samples"),
    count=int(z["count"]),
  )
