"""The shared layer helpers compute what Flax's do."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.models import layers


def test_leaky_relu_is_flaxs_in_value_and_derivatives():
  """Its derivative takes the sign from the output: the same derivatives,
  at 0 and -0 too, and to second order (gradient penalties)."""
  x = np.random.default_rng(0).normal(size=(64,)).astype(np.float32)
  x[:4] = [0.0, -0.0, 1e-30, -1e-30]

  def ours(x):
    return layers.leaky_relu(x, 0.2)

  def flax(x):
    return nn.leaky_relu(x, 0.2)

  np.testing.assert_array_equal(
    np.asarray(ours(x)).view(np.uint32), np.asarray(flax(x)).view(np.uint32)
  )

  def grad(f):
    return jax.grad(lambda x: jnp.sum(jnp.sin(3 * f(x)) * x))

  np.testing.assert_array_equal(grad(ours)(x), grad(flax)(x))

  def hessian(f):
    return jax.hessian(lambda x: jnp.sum(jnp.sin(3 * f(x))))

  np.testing.assert_array_equal(hessian(ours)(x[:8]), hessian(flax)(x[:8]))
