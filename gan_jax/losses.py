"""Adversarial losses as pure functions of discriminator outputs.

A :class:`GanLoss` pairs the discriminator's loss ``discriminator(real,
fake)`` with the generator's loss ``generator(fake)``. ``real`` and ``fake``
are the raw discriminator outputs on real and generated samples: logits for
the probabilistic losses, critic values for Wasserstein. Both return a scalar
to be minimised, averaged over the batch. σ is the logistic sigmoid and
softplus(x) = log(1 + eˣ), so -log σ(x) = softplus(-x) and
-log(1 - σ(x)) = softplus(x).

Add your own by registering a ``GanLoss``::

    LOSSES.register("mine")(GanLoss(discriminator=d_fn, generator=g_fn))
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gan_jax.registry import Registry

Array = jax.Array


class GanLoss(NamedTuple):
  discriminator: Callable[[Array, Array], Array]
  generator: Callable[[Array], Array]


LOSSES = Registry("loss")


def _mean(x: Array) -> Array:
  return jnp.mean(x.astype(jnp.float32))


def bce_discriminator(real: Array, fake: Array) -> Array:
  """Binary cross-entropy of the 2014 GAN (Goodfellow et al.).

  L_D = -E[log σ(r)] - E[log(1 - σ(f))] = E[softplus(-r)] + E[softplus(f)].
  """
  return _mean(jax.nn.softplus(-real)) + _mean(jax.nn.softplus(fake))


def non_saturating_generator(fake: Array) -> Array:
  """The non-saturating generator loss: L_G = -E[log σ(f)] = E[softplus(-f)]."""
  return _mean(jax.nn.softplus(-fake))


def minimax_generator(fake: Array) -> Array:
  """The saturating minimax loss of the 2014 paper.

  L_G = E[log(1 - σ(f))] = -E[softplus(f)]; its gradient vanishes when D
  confidently rejects the fakes.
  """
  return -_mean(jax.nn.softplus(fake))


def hinge_discriminator(real: Array, fake: Array) -> Array:
  """Hinge loss (Lim & Ye 2017): L_D = E[max(0, 1 - r)] + E[max(0, 1 + f)]."""
  return _mean(jax.nn.relu(1.0 - real)) + _mean(jax.nn.relu(1.0 + fake))


def wasserstein_discriminator(real: Array, fake: Array) -> Array:
  """Wasserstein critic loss (Arjovsky et al. 2017): L_D = E[f] - E[r].

  Meaningful only with a Lipschitz constraint on the critic (weight clipping
  or a gradient penalty).
  """
  return _mean(fake) - _mean(real)


def negative_critic_generator(fake: Array) -> Array:
  """Generator loss of the hinge and Wasserstein GANs: L_G = -E[f]."""
  return -_mean(fake)


def least_squares_discriminator(real: Array, fake: Array) -> Array:
  """LSGAN (Mao et al. 2017, a=0, b=1): L_D = ½E[(r - 1)²] + ½E[f²]."""
  return 0.5 * (_mean(jnp.square(real - 1.0)) + _mean(jnp.square(fake)))


def least_squares_generator(fake: Array) -> Array:
  """LSGAN generator loss (c=1): L_G = ½E[(f - 1)²]."""
  return 0.5 * _mean(jnp.square(fake - 1.0))


NON_SATURATING = LOSSES.register("non_saturating")(
  GanLoss(bce_discriminator, non_saturating_generator)
)
MINIMAX = LOSSES.register("minimax")(
  GanLoss(bce_discriminator, minimax_generator)
)
HINGE = LOSSES.register("hinge")(
  GanLoss(hinge_discriminator, negative_critic_generator)
)
WASSERSTEIN = LOSSES.register("wasserstein")(
  GanLoss(wasserstein_discriminator, negative_critic_generator)
)
LEAST_SQUARES = LOSSES.register("least_squares")(
  GanLoss(least_squares_discriminator, least_squares_generator)
)
