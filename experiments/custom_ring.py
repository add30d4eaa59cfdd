"""A loss and a model of your own, as pure functions, on the 8-Gaussian ring.

python -m gan_jax.train --config experiments/custom_ring.py --workdir runs/custom_ring
"""

import math

import jax
import jax.numpy as jnp

from gan_jax import losses, models
from gan_jax.config import Config
from gan_jax.models import Model


# A loss: one-sided label smoothing (Salimans et al. 2016), real target 0.9.
def smoothed_discriminator(real, fake):
  """L_D = E[0.9 softplus(-r) + 0.1 softplus(r)] + E[softplus(f)]."""
  return jnp.mean(
    0.9 * jax.nn.softplus(-real) + 0.1 * jax.nn.softplus(real)
  ) + jnp.mean(jax.nn.softplus(fake))


losses.LOSSES.register("smoothed")(
  losses.GanLoss(smoothed_discriminator, losses.non_saturating_generator)
)


# A model in plain JAX: an MLP as an (init, apply) pair.
def mlp(sizes: list[int], out_shape: tuple[int, ...]) -> Model:
  def init(key, x):
    del x
    keys = jax.random.split(key, len(sizes) - 1)
    return [
      (jax.random.normal(k, (m, n)) / math.sqrt(m), jnp.zeros(n))
      for k, m, n in zip(keys, sizes[:-1], sizes[1:])
    ], {}

  def apply(params, state, x, train):
    del train
    h = x.reshape(x.shape[0], -1)
    for w, b in params[:-1]:
      h = jax.nn.leaky_relu(h @ w + b, 0.2)
    w, b = params[-1]
    return (h @ w + b).reshape(x.shape[0], *out_shape), state

  return Model(init, apply)


@models.ARCHITECTURES.register("plain_mlp")
def plain_mlp(cfg, data_shape, axis_name=None):
  del axis_name  # No BatchNorm, so nothing to average across devices.
  size = math.prod(data_shape)
  hidden = [cfg.hidden] * cfg.depth
  return (
    mlp([cfg.latent_dim, *hidden, size], data_shape),
    mlp([size, *hidden, 1], ()),
  )


def get_config() -> Config:
  cfg = Config()
  cfg.data.name = "mog_ring"
  cfg.model.arch = "plain_mlp"
  cfg.model.latent_dim, cfg.model.hidden, cfg.model.depth = 4, 128, 2
  cfg.loss = "smoothed"
  cfg.g_optimizer.lr = cfg.d_optimizer.lr = 1e-3
  cfg.batch_size, cfg.steps = 128, 3000
  cfg.log_every, cfg.sample_every = 100, 1000
  cfg.eval.features, cfg.eval.metrics = "none", "mixture_modes"
  cfg.eval.every, cfg.eval.num_samples = 1000, 2500
  return cfg
