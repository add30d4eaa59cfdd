"""The model protocol of gan_jax: a pair of pure functions.

``init(key, x) -> (params, state)``
    ``params`` are trained by the optimizer; ``state`` holds everything else
    the model carries between calls (BatchNorm running averages, power
    iteration vectors, ...). Both are pytrees; ``state`` may be ``{}``.
    ``gan_jax.state.init`` calls it under ``jax.jit``, so it must be
    traceable: shapes come from ``x``, values from ``key``.

``apply(params, state, x, train) -> (y, new_state)``
    ``train`` is a Python bool. With ``train=False`` a model must return its
    ``state`` unchanged.

The engine only ever calls these two functions, so a model written in plain
JAX, Flax, Equinox or Haiku plugs in. :func:`from_linen` adapts a Flax linen
module whose ``__call__`` takes ``(x, train)``.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax

PyTree = Any


class Model(NamedTuple):
  init: Callable[[jax.Array, jax.Array], tuple[PyTree, PyTree]]
  apply: Callable[[PyTree, PyTree, jax.Array, bool], tuple[jax.Array, PyTree]]


def from_linen(module) -> Model:
  """Wraps a linen module with signature ``__call__(x, train)`` as a Model.

  Collections other than ``params`` (``batch_stats`` and the like) become the
  model's ``state`` and are updated when ``train`` is true.
  """

  def init(key, x):
    variables = dict(module.init({"params": key}, x, train=False))
    params = variables.pop("params")
    return params, variables

  def apply(params, state, x, train):
    variables = {"params": params, **state}
    if train and state:
      y, new_state = module.apply(variables, x, train=True, mutable=list(state))
      return y, dict(new_state)
    return module.apply(variables, x, train=train), state

  return Model(init, apply)
