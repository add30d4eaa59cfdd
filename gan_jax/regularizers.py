"""Discriminator regularizers as pure functions.

A regularizer adds a penalty to the discriminator's loss. Most are functions
``penalty(d, real, fake, key) -> scalar`` of the discriminator ``d(x) ->
outputs`` (its parameters and model state closed over; model-state updates
are discarded), a real and a fake batch (no gradient flows to the
generator) and a key. The step adds ``weight * penalty`` to the loss.

Those that need more (the outputs the loss already computed, or state kept
between steps, like LeCam's anchors) are :class:`Regularizer` pairs
``init() -> state`` and ``apply(inputs, state) -> (penalty, state)``. Add
your own::

    REGULARIZERS.register("mine")(stateless(my_penalty))

Gradient penalties take the gradient of ``sum(d(x))`` with respect to the
batch, which is each sample's own gradient only when D treats samples
independently: use them with ``model.d_norm=layer`` or ``none``, not
BatchNorm.
"""

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gan_jax import augment
from gan_jax.registry import Registry

Array = jax.Array
PyTree = Any
Discriminator = Callable[[Array], Array]


class Inputs(NamedTuple):
  """What a regularizer may use: D, the batches, a key, and D's outputs on
  the batches as the loss computed them."""

  d: Discriminator
  real: Array
  fake: Array
  key: Array
  d_real: Array
  d_fake: Array


class Regularizer(NamedTuple):
  init: Callable[[], PyTree]
  apply: Callable[[Inputs, PyTree], tuple[Array, PyTree]]


REGULARIZERS = Registry("regularizer")


def stateless(penalty: Callable[[Discriminator, Array, Array, Array], Array]):
  """A :class:`Regularizer` from ``penalty(d, real, fake, key)``."""
  return Regularizer(
    init=dict,
    apply=lambda i, state: (penalty(i.d, i.real, i.fake, i.key), state),
  )


def _input_gradients(d: Discriminator, x: Array) -> Array:
  """∇ₓ D(x) for each sample, flattened: shape (batch, features)."""
  grads = jax.grad(lambda x: jnp.sum(d(x).astype(jnp.float32)))(x)
  return grads.reshape(grads.shape[0], -1)


def _norms(grads: Array) -> Array:
  # The small constant keeps the gradient of the norm finite at zero.
  return jnp.sqrt(jnp.sum(jnp.square(grads), axis=1) + 1e-12)


def _mix(key: Array, a: Array, b: Array) -> Array:
  """α·a + (1-α)·b with one α ~ U[0, 1) per sample."""
  alpha = jax.random.uniform(key, (a.shape[0],) + (1,) * (a.ndim - 1))
  return alpha * a + (1.0 - alpha) * b


def gradient_penalty(d, real, fake, key, *, one_sided: bool = False):
  """WGAN-GP (Gulrajani et al. 2017): E[(‖∇D(x̂)‖ - 1)²] at x̂ = αx + (1-α)x̃,
  α ~ U[0, 1). One-sided: E[max(0, ‖∇D(x̂)‖ - 1)²]. Weight 10 in the paper.
  """
  norms = _norms(_input_gradients(d, _mix(key, real, fake)))
  excess = jax.nn.relu(norms - 1.0) if one_sided else norms - 1.0
  return jnp.mean(jnp.square(excess))


def r1_penalty(d, real, fake, key):
  """R1 (Mescheder et al. 2018): ½E[‖∇D(x)‖²] on real data; the weight is γ."""
  del fake, key
  return 0.5 * jnp.mean(jnp.sum(jnp.square(_input_gradients(d, real)), 1))


def r2_penalty(d, real, fake, key):
  """R2 (Mescheder et al. 2018): ½E[‖∇D(x̃)‖²] on generated data."""
  del real, key
  return 0.5 * jnp.mean(jnp.sum(jnp.square(_input_gradients(d, fake)), 1))


def dragan_penalty(d, real, fake, key):
  """DRAGAN (Kodali et al. 2017): E[(‖∇D(x̂)‖ - 1)²] around the data, at
  x̂ = x + α·δ with δ = ½·std(x)·U[0, 1) and α ~ U[0, 1) per sample, as in
  the authors' code. Weight 10 in the paper. std(x) is over the rows this
  call sees: under ``pmap``, each device's.
  """
  del fake
  noise_key, mix_key = jax.random.split(key)
  delta = 0.5 * jnp.std(real) * jax.random.uniform(noise_key, real.shape)
  x = _mix(mix_key, real + delta, real)
  return jnp.mean(jnp.square(_norms(_input_gradients(d, x)) - 1.0))


def consistency_augment(key: Array, x: Array) -> Array:
  """bCR's augmentation T: a random horizontal flip and a translation of up
  to 1/8 of the image size, filled with zeros (Zhao et al. 2020)."""
  flip_key, shift_key = jax.random.split(key)
  flip = jax.random.bernoulli(flip_key, 0.5, (x.shape[0], 1, 1, 1))
  x = jnp.where(flip, x[:, :, ::-1], x)
  return augment.translation(shift_key, x, ratio=0.125)


def balanced_consistency(inputs: Inputs, state):
  """bCR (Zhao et al. 2020): E[‖D(x) - D(T(x))‖²] + E[‖D(x̃) - D(T(x̃))‖²],
  T = :func:`consistency_augment`. The paper weighs both terms 10."""
  real_key, fake_key = jax.random.split(inputs.key)
  d = inputs.d
  real_t = d(consistency_augment(real_key, inputs.real))
  fake_t = d(consistency_augment(fake_key, inputs.fake))
  penalty = jnp.mean(jnp.square(inputs.d_real - real_t)) + jnp.mean(
    jnp.square(inputs.d_fake - fake_t)
  )
  return penalty, state


LECAM_DECAY = 0.99


def lecam_init():
  return {
    "real": jnp.zeros((), jnp.float32),
    "fake": jnp.zeros((), jnp.float32),
  }


def lecam(inputs: Inputs, anchors):
  """LeCam (Tseng et al. 2021): E[(D(x) - α_F)²] + E[(D(x̃) - α_R)²], where
  α_R and α_F are moving averages (decay 0.99) of D's mean output on real
  and fake data, kept as state. The paper's weight is 0.3 (CIFAR). With
  lazy regularization (``reg_every=k``) the averages move only on the
  steps the penalty is computed, so they average over k times as many
  steps.
  """
  d_real = inputs.d_real.astype(jnp.float32)
  d_fake = inputs.d_fake.astype(jnp.float32)
  new = {
    "real": LECAM_DECAY * anchors["real"]
    + (1 - LECAM_DECAY) * jax.lax.stop_gradient(jnp.mean(d_real)),
    "fake": LECAM_DECAY * anchors["fake"]
    + (1 - LECAM_DECAY) * jax.lax.stop_gradient(jnp.mean(d_fake)),
  }
  penalty = jnp.mean(jnp.square(d_real - new["fake"])) + jnp.mean(
    jnp.square(d_fake - new["real"])
  )
  return penalty, new


def clip_weights(params: PyTree, limit: float) -> PyTree:
  """The original WGAN's constraint (Arjovsky et al. 2017): every
  discriminator parameter clipped to [-limit, limit] after each update
  (``d_weight_clip``; 0.01 in the paper)."""
  return jax.tree.map(lambda p: jnp.clip(p, -limit, limit), params)


REGULARIZERS.register("gp")(stateless(gradient_penalty))
REGULARIZERS.register("gp_one_sided")(
  stateless(lambda d, r, f, k: gradient_penalty(d, r, f, k, one_sided=True))
)
REGULARIZERS.register("r1")(stateless(r1_penalty))
REGULARIZERS.register("r2")(stateless(r2_penalty))
REGULARIZERS.register("dragan")(stateless(dragan_penalty))
REGULARIZERS.register("bcr")(Regularizer(dict, balanced_consistency))
REGULARIZERS.register("lecam")(Regularizer(lecam_init, lecam))
# Those that only apply to images (batch, height, width, channels).
IMAGE_ONLY = frozenset({"bcr"})


def parse(spec: str) -> dict[str, float]:
  """``"r1=10,lecam=0.3"`` → ``{"r1": 10.0, "lecam": 0.3}``; raises
  ValueError with a message for people."""
  weights = {}
  for item in filter(None, (s.strip() for s in spec.split(","))):
    name, sep, weight = item.partition("=")
    if not sep:
      raise ValueError(f"{item!r} has no weight; write {item}=<weight>")
    if name not in REGULARIZERS:
      raise ValueError(
        f"regularizer {name!r} is not registered; choose from "
        f"{', '.join(sorted(REGULARIZERS))}"
      )
    try:
      value = float(weight)
    except ValueError:
      raise ValueError(f"{item!r}: the weight is not a number") from None
    if not math.isfinite(value) or value < 0:
      raise ValueError(f"{item!r}: the weight must be a finite number >= 0")
    if name in weights:
      raise ValueError(f"{name!r} is given twice; give each regularizer once")
    weights[name] = value
  return weights
