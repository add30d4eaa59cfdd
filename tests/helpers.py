"""Builds a compiled train step and state from a config, as the runner does."""

import jax
import numpy as np

from gan_jax import config, data, keys, losses, models, optimizers, parallel
from gan_jax import state as state_lib
from gan_jax.step import make_train_step


def setup(cfg: config.Config, wrap=lambda step: step):
  """Returns (strategy, compiled step, placed state, source, train root).

  ``wrap`` is applied to the pure step before the strategy compiles it.
  """
  source = data.build(cfg.data.name, cfg.seed)
  strategy = parallel.make(cfg.parallel, cfg.num_devices, cfg.batch_size)
  g, d = models.build(cfg.model, source.example_shape, strategy.axis_name)
  g_opt = optimizers.build(cfg.g_optimizer)
  d_opt = optimizers.build(cfg.d_optimizer)
  root = keys.root(cfg.seed)
  state = state_lib.init(keys.stream(root, keys.INIT),
                         keys.stream(root, keys.TRAIN), g, d, g_opt, d_opt,
                         latent_dim=cfg.model.latent_dim,
                         example=source.batch(0, 2))
  step = strategy.compile(wrap(make_train_step(
      g, d, losses.LOSSES[cfg.loss], g_opt, d_opt,
      latent_dim=cfg.model.latent_dim, latent_dist=cfg.model.latent_dist,
      n_critic=cfg.n_critic, batch_axis=strategy.batch_axis)))
  return strategy, step, strategy.put_state(state), source, keys.copy(
      state.rng)


def train_steps(cfg: config.Config, steps: int, wrap=lambda step: step):
  """Runs ``steps`` steps; returns (one copy of the state, last metrics)."""
  strategy, step_fn, state, source, root = setup(cfg, wrap)
  metrics = None
  for i in range(steps):
    real = np.stack([source.batch(i * cfg.n_critic + j, cfg.batch_size)
                     for j in range(cfg.n_critic)])
    state, metrics = step_fn(state, strategy.put_batch({"x": real}),
                             keys.step_key(root, i))
  return (jax.device_get(strategy.get_state(state)),
          jax.device_get(strategy.get_metrics(metrics)))


def _plain(x):
  if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
    return np.asarray(jax.random.key_data(x))
  return np.asarray(x)


def trees_differ(a, b, atol: float = 0.0) -> list[str]:
  """Paths of the leaves of ``a`` and ``b`` that differ by more than ``atol``.

  With ``atol=0`` the comparison is bitwise. Typed keys compare by key data.
  """
  leaves_a = jax.tree_util.tree_leaves_with_path(a)
  leaves_b = jax.tree.leaves(b)
  assert len(leaves_a) == len(leaves_b), "different tree structures"
  differ = []
  for (path, x), y in zip(leaves_a, leaves_b):
    x, y = _plain(x), _plain(y)
    same = (x.shape == y.shape and
            (np.array_equal(x, y) if atol == 0 else
             np.allclose(x, y, rtol=0, atol=atol)))
    if not same:
      differ.append(jax.tree_util.keystr(path))
  return differ
