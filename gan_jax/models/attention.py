"""The self-attention block of SAGAN (Zhang et al. 2019).

Every position attends to every other: with 1×1 convolutions θ, φ (C/8
channels), g (C/2) and o (C), the block returns x + γ·o(softmax(θ(x)ᵀφ(x))
g(x)), the softmax over positions. γ starts at 0, so the block starts as the
identity and the network learns how much non-local evidence to use.
"""

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


class SelfAttention(nn.Module):
  """(batch, H, W, C) → (batch, H, W, C). ``wrap`` may wrap each 1×1
  convolution (spectral normalisation in the discriminator). ``dtype`` is
  the computation dtype (the parameters stay float32); the softmax is
  computed in float32."""

  wrap: Callable = lambda layer: layer
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    n, h, w, c = x.shape

    def conv(features, name):
      layer = nn.Conv(
        features, (1, 1), use_bias=False, dtype=self.dtype, name=name
      )
      return self.wrap(layer)

    theta = conv(max(c // 8, 1), "theta")(x).reshape(n, h * w, -1)
    phi = conv(max(c // 8, 1), "phi")(x).reshape(n, h * w, -1)
    g = conv(max(c // 2, 1), "g")(x).reshape(n, h * w, -1)
    logits = jnp.einsum("nqc,nkc->nqk", theta, phi).astype(jnp.float32)
    attention = jax.nn.softmax(logits, axis=-1).astype(x.dtype)
    out = jnp.einsum("nqk,nkc->nqc", attention, g).reshape(n, h, w, -1)
    out = conv(c, "o")(out)
    gamma = self.param("gamma", nn.initializers.zeros, ())
    return x + (gamma * out).astype(x.dtype)
