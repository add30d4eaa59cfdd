"""How every random number in a run is derived from its seed.

One typed root key per run; separate streams for initialisation, training
the fixed sampling noise and the evaluation noise; and for training, one key per step derived as
``fold_in(train_root, step)``. A run is therefore a function of
(config, seed), and a resumed run draws exactly the keys an uninterrupted
one would.
"""

import jax

INIT, TRAIN, SAMPLES, EVAL = 0, 1, 2, 3


def root(seed: int) -> jax.Array:
  return jax.random.key(seed)


def stream(root_key: jax.Array, name: int) -> jax.Array:
  return jax.random.fold_in(root_key, name)


def step_key(train_root: jax.Array, step) -> jax.Array:
  return jax.random.fold_in(train_root, step)


def copy(key: jax.Array) -> jax.Array:
  """An independent copy of a typed key, safe to keep when ``key`` is donated."""
  return jax.random.wrap_key_data(
    jax.device_get(jax.random.key_data(key)), impl=jax.random.key_impl(key)
  )
