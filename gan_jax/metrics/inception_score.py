"""Inception Score (Salimans et al. 2016).

For class predictions p(y|x) of a classifier on generated samples x,

    IS = exp(E_x KL(p(y|x) ‖ p(y))),   p(y) = E_x p(y|x),
    KL(p ‖ q) = Σ_y p(y) (log p(y) - log q(y)).

It is 1 when every prediction is the same and at most the number of classes,
reached by confident predictions spread evenly over the classes. As in the
TF-GAN and StyleGAN2-ADA implementations the samples are cut into contiguous
splits, each with its own marginal p(y), and the score is reported as the
mean and standard deviation over the splits.
"""

import numpy as np
import scipy.special


def _split_score(log_p: np.ndarray) -> float:
  """exp(mean KL(p(y|x) ‖ p(y))) for the log-probabilities of one split."""
  # log p(y) = log Σ_x p(y|x) - log n, stable for very negative log p(y|x).
  p = np.exp(log_p)
  # 0 log 0 = 0: a zero probability contributes nothing, even where
  # log p(y) = -∞ because the whole split gives the class zero probability.
  with np.errstate(divide="ignore", invalid="ignore"):
    log_marginal = scipy.special.logsumexp(log_p, axis=0) - np.log(len(p))
    terms = np.where(p > 0, p * (log_p - log_marginal), 0.0)
  return float(np.exp(np.mean(np.sum(terms, axis=1))))


def inception_score(
  logits_or_probs: np.ndarray, splits: int = 10, from_logits: bool = True
) -> tuple[float, float]:
  """The mean and standard deviation of the Inception Score over splits.

  Args:
    logits_or_probs: classifier outputs on generated samples, shape (n, c):
      logits, or probabilities whose rows sum to 1.
    splits: the number of contiguous splits; split i holds rows
      [i n // splits, (i + 1) n // splits), as in StyleGAN2-ADA.
    from_logits: whether the inputs are logits, turned into
      log-probabilities by a stable log-softmax, rather than probabilities.

  Returns:
    (mean, std) of the splits' scores, std with ddof=0 as in the reference
    implementations.
  """
  x = np.asarray(logits_or_probs, np.float64)
  if x.ndim != 2:
    raise ValueError(f"predictions must have shape (n, classes), got {x.shape}")
  n = x.shape[0]
  if not 1 <= splits <= n:
    raise ValueError(f"splits must be between 1 and {n}, got {splits}")
  if from_logits:
    log_p = scipy.special.log_softmax(x, axis=1)
  else:
    if np.any(x < 0) or not np.allclose(x.sum(axis=1), 1.0, atol=1e-3):
      raise ValueError(
        "probabilities must be non-negative with rows summing to 1; pass "
        "from_logits=True for logits"
      )
    with np.errstate(divide="ignore"):
      log_p = np.log(x)
  scores = [
    _split_score(log_p[i * n // splits : (i + 1) * n // splits])
    for i in range(splits)
  ]
  return float(np.mean(scores)), float(np.std(scores))
