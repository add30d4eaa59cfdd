"""Precision, recall, density and coverage from k-nearest-neighbour balls.

Let X = {xᵢ}ᵢ₌₁ᴺ be real and Y = {yⱼ}ⱼ₌₁ᴹ generated features, ‖·‖ the
Euclidean distance, and NND_k(xᵢ) the distance from xᵢ to its k-th nearest
neighbour in X other than itself (likewise NND_k(yⱼ) within Y). B(x, r) is
the ball of radius r around x.

Improved precision and recall (Kynkäänniemi et al. 2019, k = 3) estimate each
manifold by the union of its points' closed k-NN balls:

    precision = (1/M) Σⱼ 1[∃i: ‖yⱼ - xᵢ‖ ≤ NND_k(xᵢ)],
    recall    = (1/N) Σᵢ 1[∃j: ‖xᵢ - yⱼ‖ ≤ NND_k(yⱼ)].

Density and coverage (Naeem et al. 2020, k = 5) use only the real balls, open
as in the authors' code:

    density  = 1/(kM) Σⱼ Σᵢ 1[‖yⱼ - xᵢ‖ < NND_k(xᵢ)],
    coverage = (1/N) Σᵢ 1[minⱼ ‖xᵢ - yⱼ‖ < NND_k(xᵢ)].

Density counts how many real balls hold each generated point and is 1 in
expectation when Y follows the real distribution; it can exceed 1.

Distances are computed in float32 tiles of at most ``block`` × ``block`` by
a jitted ‖a‖² + ‖b‖² - 2abᵀ, clipped at 0, after both sets are centred on
the real mean; no N × N matrix is held. Comparisons use squared distances.
"""

from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.metrics.feature_set import as_pair


@jax.jit
def _squared_distances(a: jax.Array, b: jax.Array) -> jax.Array:
  """‖aᵢ - bⱼ‖² = ‖aᵢ‖² + ‖bⱼ‖² - 2aᵢᵀbⱼ, clipped at 0."""
  ab = jnp.matmul(a, b.T, precision=jax.lax.Precision.HIGHEST)
  aa = jnp.sum(a * a, axis=1)
  bb = jnp.sum(b * b, axis=1)
  return jnp.maximum(aa[:, None] + bb[None, :] - 2.0 * ab, 0.0)


def _prepare(real: np.ndarray, fake: np.ndarray) -> tuple[jax.Array, jax.Array]:
  """Both sets as float32 device arrays centred on the real mean."""
  real, fake = as_pair(real, fake)
  if real.shape[0] == 0 or fake.shape[0] == 0:
    raise ValueError("real and fake must both hold at least one point")
  # Centring shrinks the norms, and so the cancellation in ‖a‖² + ‖b‖² - 2abᵀ.
  centre = real.mean(axis=0)
  return (
    jnp.asarray(real - centre, jnp.float32),
    jnp.asarray(fake - centre, jnp.float32),
  )


def _tiles(
  a: jax.Array, b: jax.Array, block: int
) -> Iterator[tuple[slice, slice, np.ndarray]]:
  """Yields (rows, cols, ‖a[rows] - b[cols]‖²) over all tiles of a × b."""
  if block < 1:
    raise ValueError(f"block must be at least 1, got {block}")
  for i in range(0, a.shape[0], block):
    rows = slice(i, min(i + block, a.shape[0]))
    for j in range(0, b.shape[0], block):
      cols = slice(j, min(j + block, b.shape[0]))
      yield rows, cols, np.array(_squared_distances(a[rows], b[cols]))


def _kth_neighbour_radii2(x: jax.Array, k: int, block: int) -> np.ndarray:
  """NND_k(xᵢ)², the k-th smallest ‖xᵢ - xⱼ‖² over j ≠ i."""
  n = x.shape[0]
  if not 1 <= k < n:
    raise ValueError(f"k must be between 1 and {n - 1} for {n} points, got {k}")
  best = np.full((n, k), np.inf, np.float32)
  for rows, cols, d in _tiles(x, x, block):
    # Leave each point out of its own neighbours.
    i = np.arange(rows.start, rows.stop)
    inside = (i >= cols.start) & (i < cols.stop)
    d[np.nonzero(inside)[0], i[inside] - cols.start] = np.inf
    candidates = np.concatenate([best[rows], d], axis=1)
    best[rows] = np.partition(candidates, k - 1, axis=1)[:, :k]
  return best.max(axis=1)


def precision_recall(
  real: np.ndarray, fake: np.ndarray, k: int = 3, block: int = 1024
) -> tuple[float, float]:
  """Improved precision and recall of Kynkäänniemi et al. (2019).

  Args:
    real: real features, shape (N, d).
    fake: generated features, shape (M, d).
    k: the neighbour whose distance is each ball's radius.
    block: the largest tile of pairwise distances computed at once.

  Returns:
    (precision, recall): the fraction of generated points inside some real
    ball, and of real points inside some generated ball (see the module).
  """
  real, fake = _prepare(real, fake)
  real_r2 = _kth_neighbour_radii2(real, k, block)
  fake_r2 = _kth_neighbour_radii2(fake, k, block)
  fake_inside = np.zeros(fake.shape[0], bool)
  real_inside = np.zeros(real.shape[0], bool)
  for rows, cols, d in _tiles(real, fake, block):
    fake_inside[cols] |= np.any(d <= real_r2[rows, None], axis=0)
    real_inside[rows] |= np.any(d <= fake_r2[None, cols], axis=1)
  return float(fake_inside.mean()), float(real_inside.mean())


def density_coverage(
  real: np.ndarray, fake: np.ndarray, k: int = 5, block: int = 1024
) -> tuple[float, float]:
  """Density and coverage of Naeem et al. (2020).

  Args:
    real: real features, shape (N, d).
    fake: generated features, shape (M, d).
    k: the neighbour whose distance is each real ball's radius.
    block: the largest tile of pairwise distances computed at once.

  Returns:
    (density, coverage): the mean number of real balls holding a generated
    point, over k, and the fraction of real balls holding a generated point
    (see the module).
  """
  real, fake = _prepare(real, fake)
  real_r2 = _kth_neighbour_radii2(real, k, block)
  holding = np.zeros(fake.shape[0], np.int64)
  nearest = np.full(real.shape[0], np.inf, np.float32)
  for rows, cols, d in _tiles(real, fake, block):
    holding[cols] += np.sum(d < real_r2[rows, None], axis=0)
    nearest[rows] = np.minimum(nearest[rows], d.min(axis=1))
  density = holding.sum() / (k * fake.shape[0])
  return float(density), float(np.mean(nearest < real_r2))
