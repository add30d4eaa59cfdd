"""Test helpers: a compiled train step and state from a config, as the runner
builds them; comparing pytrees; reading a PNG's size."""

import jax
import numpy as np
from PIL import Image

from gan_jax import config, keys, run


def setup(cfg: config.Config, wrap=lambda step: step):
  """Returns (strategy, compiled step, placed state, source, train root),
  assembled as the runner does; ``wrap`` is applied to the pure step before
  the strategy compiles it.
  """
  parts = run.assemble(cfg)
  strategy = parts.strategy
  return (
    strategy,
    strategy.compile(wrap(parts.train_step)),
    strategy.put_state(parts.state),
    parts.source,
    keys.copy(parts.state.rng),
  )


def train_steps(cfg: config.Config, steps: int, wrap=lambda step: step):
  """Runs ``steps`` steps; returns (one copy of the state, last metrics)."""
  strategy, step_fn, state, source, root = setup(cfg, wrap)
  batches = run.pipeline(cfg, source, strategy.put_batch)
  metrics = None
  for i in range(steps):
    state, metrics = step_fn(state, next(batches), keys.step_key(root, i))
  return (
    jax.device_get(strategy.get_state(state)),
    jax.device_get(strategy.get_metrics(metrics)),
  )


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
    same = x.shape == y.shape and (
      np.array_equal(x, y)
      if atol == 0
      else np.allclose(x, y, rtol=0, atol=atol)
    )
    if not same:
      differ.append(jax.tree_util.keystr(path))
  return differ


def png_size(path) -> tuple[int, int]:
  """(width, height) of an image file, closing it again."""
  with Image.open(path) as image:
    return image.size
