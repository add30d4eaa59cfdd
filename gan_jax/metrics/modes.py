"""Mode-collapse metrics of the 2-D mixtures and of (stacked) digits.

Both follow VEEGAN and PacGAN: count the modes a sample reaches and measure
the reverse KL divergence KL(sample mode histogram || uniform over modes).
"""

import numpy as np

from gan_jax.metrics.digits_classifier import DigitsClassifier


def kl_from_uniform(counts: np.ndarray) -> float:
  """KL(counts / sum || uniform over len(counts)) in nats; 0·log 0 = 0.

  NaN when ``counts`` is all zero: there is no histogram to compare.
  """
  counts = np.asarray(counts, np.float64)
  total = counts.sum()
  if total == 0:
    return float("nan")
  p = counts[counts > 0] / total
  return float(np.sum(p * np.log(p * len(counts))))


def mixture_modes(samples, centers, sigma: float) -> dict[str, float]:
  """Modes reached by 2-D ``samples`` (N, 2) of a mixture of ``centers``.

  A sample is of high quality when within 3σ of its nearest center.

  Returns:
    modes: how many centers have at least one high-quality sample;
    high_quality: the fraction of samples of high quality;
    reverse_kl: KL(histogram of the high-quality samples over the centers ||
      uniform), NaN when there are none.
  """
  dist = _distances(samples, centers)
  nearest, good = dist.argmin(1), dist.min(1) <= 3 * sigma
  counts = np.bincount(nearest[good], minlength=len(centers))
  return {
    "modes": int(np.count_nonzero(counts)),
    "high_quality": float(good.mean()),
    "reverse_kl": kl_from_uniform(counts),
  }


def _distances(samples, centers) -> np.ndarray:
  samples = np.asarray(samples, np.float64)
  centers = np.asarray(centers, np.float64)
  return np.linalg.norm(samples[:, None] - centers[None], axis=-1)


def nearest_center(samples, centers) -> np.ndarray:
  """The index of each 2-D sample's nearest center."""
  return _distances(samples, centers).argmin(1)


def accuracy(predicted, labels) -> float:
  """The fraction of ``predicted`` classes equal to ``labels``."""
  predicted, labels = np.asarray(predicted), np.asarray(labels)
  if predicted.shape != labels.shape:
    raise ValueError(
      f"{predicted.shape[0]} predictions for {labels.shape[0]} labels"
    )
  return float(np.mean(predicted == labels))


def stacked_digit_classes(samples, classifier: DigitsClassifier) -> np.ndarray:
  """The class 0..999 of each stacked digit (N, 8, 8, 3): its channels'
  digits read as a 3-digit number, channel 0 the hundreds."""
  samples = np.asarray(samples, np.float32)
  n = samples.shape[0]
  channels = np.moveaxis(samples, -1, 1).reshape(n * 3, 8, 8, 1)
  labels = np.asarray(classifier.predict(channels)).reshape(n, 3)
  return labels @ np.array([100, 10, 1])


def stacked_digit_modes(
  samples, classifier: DigitsClassifier
) -> dict[str, float]:
  """Modes of stacked digits (N, 8, 8, 3) in [-1, 1] among the 1,000 classes.

  Returns:
    modes: how many of the 1,000 classes occur;
    reverse_kl: KL(class histogram || uniform over the 1,000 classes).
  """
  return class_modes(stacked_digit_classes(samples, classifier), 1000)


def class_modes(labels, num_classes: int) -> dict[str, float]:
  """How many of ``num_classes`` classes the labels reach, and the KL of
  their histogram to the uniform one."""
  counts = np.bincount(np.asarray(labels), minlength=num_classes)
  return {
    "modes": int(np.count_nonzero(counts)),
    "reverse_kl": kl_from_uniform(counts),
  }


def digit_modes(samples, classifier: DigitsClassifier) -> dict[str, float]:
  """Modes of single digits (N, 8, 8, 1) in [-1, 1] among the 10 classes.

  Returns:
    modes: how many of the 10 digits occur;
    reverse_kl: KL(class histogram || uniform over the 10 classes).
  """
  labels = classifier.predict(np.asarray(samples, np.float32))
  return class_modes(labels, 10)
