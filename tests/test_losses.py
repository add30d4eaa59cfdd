"""Each loss against values computed by hand from its formula."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import losses

REAL = jnp.array([1.0, -2.0])
FAKE = jnp.array([0.5, 3.0])


def softplus(x: float) -> float:
  return math.log1p(math.exp(x))


def mean(*xs: float) -> float:
  return sum(xs) / len(xs)


BCE_D = mean(softplus(-1.0), softplus(2.0)) + mean(softplus(0.5), softplus(3.0))

CASES = {
  # name: (discriminator loss, generator loss) on REAL, FAKE.
  "non_saturating": (BCE_D, mean(softplus(-0.5), softplus(-3.0))),
  "minimax": (BCE_D, -mean(softplus(0.5), softplus(3.0))),
  # D: mean(max(0, 1 - r)) + mean(max(0, 1 + f)) = (0 + 3)/2 + (1.5 + 4)/2.
  "hinge": (4.25, -1.75),
  # D: mean(f) - mean(r) = 1.75 - (-0.5).
  "wasserstein": (2.25, -1.75),
  # D: ½(mean((r-1)²) + mean(f²)) = ½((0 + 9)/2 + (0.25 + 9)/2).
  # G: ½ mean((f-1)²) = ½ (0.25 + 4)/2.
  "least_squares": (4.5625, 1.0625),
}


def test_every_loss_is_registered():
  assert set(CASES) <= set(losses.LOSSES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_matches_hand_computed_value(name):
  loss = losses.LOSSES[name]
  d_expected, g_expected = CASES[name]
  np.testing.assert_allclose(
    loss.discriminator(REAL, FAKE), d_expected, rtol=1e-6
  )
  np.testing.assert_allclose(loss.generator(FAKE), g_expected, rtol=1e-6)


def test_bce_at_chance_is_two_log_two():
  zeros = jnp.zeros(4)
  np.testing.assert_allclose(
    losses.bce_discriminator(zeros, zeros), 2 * math.log(2), rtol=1e-6
  )
  np.testing.assert_allclose(
    losses.non_saturating_generator(zeros), math.log(2), rtol=1e-6
  )


def test_minimax_saturates_where_non_saturating_does_not():
  """When D confidently rejects fakes, only the non-saturating G learns."""
  rejected = jnp.array([-10.0])
  g_ns = jax.grad(losses.non_saturating_generator)(rejected)
  g_mm = jax.grad(losses.minimax_generator)(rejected)
  assert abs(float(g_ns[0])) > 0.99
  assert abs(float(g_mm[0])) < 1e-4


def test_losses_are_stable_for_large_logits():
  big = jnp.array([1e4, -1e4])
  for loss in losses.LOSSES.values():
    assert np.isfinite(float(loss.discriminator(big, -big)))
    assert np.isfinite(float(loss.generator(big)))
