"""The GAN train step: one pure function ``(state, batch, key) -> (state, metrics)``.

Each step makes ``n_critic`` discriminator updates, each on a fresh real
batch and fresh noise, then one generator update against the updated
discriminator. ``batch["x"]`` has shape ``(n_critic, batch_size, ...)``.
The step key is split with ``fold_in``: discriminator update ``i`` draws its
noise from ``fold_in(key, i)``, the generator update from
``fold_in(key, n_critic)``.

Model state (BatchNorm running averages) is updated only by the player's own
update: the discriminator's by its forward passes on the real and then the
fake batch, the generator's by its forward pass in the generator update.
"""

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from gan_jax import latent
from gan_jax.losses import GanLoss
from gan_jax.models.model import Model
from gan_jax.parallel import LOCAL, BatchAxis
from gan_jax.state import GANState

Metrics = dict[str, jax.Array]


def make_train_step(
  generator: Model,
  discriminator: Model,
  loss: GanLoss,
  g_optimizer: optax.GradientTransformation,
  d_optimizer: optax.GradientTransformation,
  *,
  latent_dim: int,
  latent_dist: str = "normal",
  n_critic: int = 1,
  batch_axis: BatchAxis = LOCAL,
) -> Callable[[GANState, Any, jax.Array], tuple[GANState, Metrics]]:
  """Returns the (not yet compiled) train step of a GAN.

  Metrics: ``d_loss``, ``d_real`` and ``d_fake`` (mean discriminator outputs)
  of the last discriminator update, and ``g_loss``.
  """
  sample = functools.partial(_sample_noise, latent_dist, latent_dim)

  def train_step(state: GANState, batch, key: jax.Array):
    real = batch["x"]
    rows = real.shape[1]

    def d_update(carry, real_i, i):
      params, model_state, opt_state = carry
      z = batch_axis.draw(sample, jax.random.fold_in(key, i), rows)
      fake, _ = generator.apply(state.g_params, state.g_state, z, True)
      fake = jax.lax.stop_gradient(fake)

      def d_loss(p):
        d_real, s = discriminator.apply(p, model_state, real_i, True)
        d_fake, s = discriminator.apply(p, s, fake, True)
        return loss.discriminator(d_real, d_fake), (s, d_real, d_fake)

      (value, (model_state, d_real, d_fake)), grads = jax.value_and_grad(
        d_loss, has_aux=True
      )(params)
      grads = batch_axis.mean(grads)
      updates, opt_state = d_optimizer.update(grads, opt_state, params)
      params = optax.apply_updates(params, updates)
      metrics = {
        "d_loss": value,
        "d_real": jnp.mean(d_real),
        "d_fake": jnp.mean(d_fake),
      }
      return (params, model_state, opt_state), batch_axis.mean(metrics)

    # A Python loop, not lax.scan: XLA:CPU runs a convolution's kernel
    # gradient inside a while loop over 100 times slower (benchmarks/README).
    carry = (state.d_params, state.d_state, state.d_opt_state)
    for i in range(n_critic):
      carry, metrics = d_update(carry, real[i], i)
    d_params, d_state, d_opt_state = carry

    z = batch_axis.draw(sample, jax.random.fold_in(key, n_critic), rows)

    def g_loss(p):
      fake, g_state = generator.apply(p, state.g_state, z, True)
      d_fake, _ = discriminator.apply(d_params, d_state, fake, True)
      return loss.generator(d_fake), g_state

    (g_value, g_state), grads = jax.value_and_grad(g_loss, has_aux=True)(
      state.g_params
    )
    grads = batch_axis.mean(grads)
    updates, g_opt_state = g_optimizer.update(
      grads, state.g_opt_state, state.g_params
    )
    g_params = optax.apply_updates(state.g_params, updates)

    new_state = state.replace(
      step=state.step + 1,
      g_params=g_params,
      g_state=g_state,
      g_opt_state=g_opt_state,
      d_params=d_params,
      d_state=d_state,
      d_opt_state=d_opt_state,
    )
    metrics["g_loss"] = batch_axis.mean(g_value)
    return new_state, metrics

  return train_step


def _sample_noise(dist: str, dim: int, key: jax.Array, n: int) -> jax.Array:
  return latent.sample(dist, key, n, dim)
