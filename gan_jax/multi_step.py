"""Several train steps in one host call.

``steps_per_call(train_step, k)`` runs ``k`` steps of a train step in one
compiled call, over ``k`` steps' batches that are already on the device,
with ``lax.scan``. It saves the per-call overheads of dispatch, host-device
transfer and Python, which dominate small models (the 8×8 digits DCGAN).

Each inner step draws the key a single step would: ``fold_in(train_root,
state.step)``, so k steps in one call compute what k calls do: bitwise
where XLA compiles the step alike inside the scan, else to float32
rounding (the DCGAN with two D updates per step: 2e-9).
"""

from collections.abc import Callable
from typing import Any

import jax

from gan_jax import keys
from gan_jax.state import GANState

Step = Callable[[GANState, Any, jax.Array], tuple[GANState, Any]]


def steps_per_call(train_step: Step, k: int) -> Step:
  """Returns ``fn(state, batch, train_root) -> (state, metrics)``.

  ``batch`` stacks the batches of ``k`` steps along its leading axis, which
  for the GAN step is ``k · n_critic`` long: step ``i`` takes rows
  ``[i·n_critic, (i+1)·n_critic)``, the way the pipeline stacks them. The
  metrics are those of the last step.
  """

  def many(state: GANState, batch, train_root: jax.Array):
    batch = jax.tree.map(
      lambda x: x.reshape(k, x.shape[0] // k, *x.shape[1:]), batch
    )

    def one(state, step_batch):
      key = keys.step_key(train_root, state.step)
      return train_step(state, step_batch, key)

    state, metrics = jax.lax.scan(one, state, batch)
    return state, jax.tree.map(lambda m: m[-1], metrics)

  return many
