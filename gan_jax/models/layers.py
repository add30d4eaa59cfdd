"""Small layer helpers shared by the Flax models."""

import functools
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

# DCGAN (Radford et al. 2016): weights drawn from N(0, 0.02).
weight_init = nn.initializers.normal(0.02)


def normalization(
  kind: str,
  train: bool,
  *,
  momentum: float,
  axis_name: str | None,
  feature_axes: tuple[int, ...] = (-1,),
  dtype: Any = None,
) -> Callable[[jax.Array], jax.Array]:
  """Returns a normalisation layer: ``batch``, ``layer`` or ``none``.

  ``batch`` normalises over every axis but the last; with ``axis_name`` set
  (pmap) its statistics are averaged over that device axis, so they are the
  statistics of the global batch. ``layer`` normalises each example over
  ``feature_axes`` (all of H, W, C for images, as WGAN-GP recommends).
  ``dtype`` is the computation dtype; Flax reduces the statistics in float32
  whatever it is.
  """
  if kind == "batch":
    return nn.BatchNorm(
      use_running_average=not train,
      momentum=momentum,
      axis_name=axis_name,
      dtype=dtype,
    )
  if kind == "layer":
    return nn.LayerNorm(
      reduction_axes=feature_axes, feature_axes=-1, dtype=dtype
    )
  if kind == "none":
    return lambda x: x
  raise ValueError(f"unknown normalization {kind!r}")


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def leaky_relu(x: jax.Array, negative_slope: float) -> jax.Array:
  """``nn.leaky_relu``, whose derivative reads the output, not the input.

  For a positive slope, ``y ≥ 0`` exactly where ``x ≥ 0`` (but for inputs
  within a denormal of 0, where ``slope·x`` rounds to -0), so the backward
  pass can take the sign from the output, which the next layer keeps for
  its own gradient. Taken from the input, XLA keeps the input as well: for
  dcgan64's discriminator at batch 256, its first convolution's 128 MB
  output beside the activation, for the real and the fake batch
  (benchmarks/README.md).
  """
  return jnp.where(x >= 0, x, negative_slope * x)


@leaky_relu.defjvp
def _leaky_relu_jvp(negative_slope, primals, tangents):
  y = leaky_relu(primals[0], negative_slope)
  (t,) = tangents
  return y, jnp.where(y >= 0, t, negative_slope * t)


def spectral(layer: nn.Module, enabled: bool, train: bool) -> Callable:
  """``layer`` with spectral normalisation (Miyato et al. 2018) if enabled.

  A true reparameterisation: the layer's parameters stay W, and it computes
  with W/σ(W), σ the largest singular value of W reshaped to (fan-in,
  fan-out), estimated by one power iteration per call from a vector ``u``
  kept in the model state (collection ``batch_stats``) and updated only in
  training. Flax linen's ``SpectralNorm`` does the work, except at
  initialisation, where it would store W/σ(W) as the parameters (see
  :class:`_SpectralNorm`): they start as the layer's own draw, as with
  PyTorch's ``spectral_norm``.
  """
  if not enabled:
    return layer
  wrapped = _SpectralNorm(layer)
  return lambda x: wrapped(x, update_stats=train)


class _SpectralNorm(nn.SpectralNorm):
  """Linen's ``SpectralNorm``, but initialisation keeps W as drawn.

  Linen's writes the normalised W/σ back into the parameters when the model
  is initialised. The layer computes the same function from W/σ, but those
  weights are σ⁻¹ times the draw (8.8 times for a 32→8 layer drawn from
  N(0, 0.02)), and Adam's steps, whose size does not depend on the
  weights' scale, then move them proportionally less: a lower effective
  learning rate. Here the power iteration still creates ``u`` and
  ``sigma``, and W is left as drawn.
  """

  def _spectral_normalize(self, path, vs, update_stats):
    normalized = super()._spectral_normalize(path, vs, update_stats)
    return vs if self.is_initializing() else normalized
