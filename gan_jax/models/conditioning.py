"""Class conditioning: how labels enter the generator and the discriminator.

A conditional model takes ``(x, y)`` where an unconditional one takes
``x``: the generator ``(z, y)``, the discriminator ``(images, y)``, with
``y`` the int32 class labels, shape ``(batch,)``. The Model protocol is
unchanged; its input is a pair. :func:`inputs` builds it, :func:`split`
takes it apart.

Generator (``model.g_cond``):

- ``cbn``: conditional BatchNorm (de Vries et al. 2017; Dumoulin et al.
  2017), as SNGAN and BigGAN use it: BatchNorm without its own scale and
  offset, then a per-class gain and bias looked up by ``y``
  (:class:`ConditionalBatchNorm`);
- ``concat``: the label's one-hot vector appended to z (Mirza and Osindero
  2014).

Discriminator (``model.d_cond``):

- ``projection``: the projection discriminator (Miyato and Koyama 2018),
  logit ψ(φ(x)) + ⟨embed(y), φ(x)⟩ on the features φ(x) before the last
  layer (:class:`Projection`);
- ``acgan``: an auxiliary classifier head (Odena et al. 2017) on the same
  features. D then returns ``(logits, class_logits)``; :func:`outputs` splits
  any discriminator's output into the adversarial logits and the class
  logits (``None`` without a classifier).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.models.layers import normalization, spectral


def inputs(x: Any, y: jax.Array | None) -> Any:
  """A model's input: ``x`` alone, or ``(x, y)`` when there are labels."""
  return x if y is None else (x, y)


def split(model_input: Any) -> tuple[jax.Array, jax.Array | None]:
  """``(x, y)`` of a model's input; ``y`` is None for an unconditional one."""
  if isinstance(model_input, tuple):
    x, y = model_input
    return x, y
  return model_input, None


def outputs(d_output: Any) -> tuple[jax.Array, jax.Array | None]:
  """``(logits, class_logits)`` of a discriminator's output; the class
  logits are None unless D has an auxiliary classifier."""
  if isinstance(d_output, tuple):
    logits, class_logits = d_output
    return logits, class_logits
  return d_output, None


def one_hot_concat(z: jax.Array, y: jax.Array, num_classes: int) -> jax.Array:
  """``z`` with the one-hot labels appended: (B, D) → (B, D + K)."""
  return jnp.concatenate([z, jax.nn.one_hot(y, num_classes, dtype=z.dtype)], -1)


class ConditionalBatchNorm(nn.Module):
  """BatchNorm whose scale and offset are looked up per class.

  ``y_out = BN(x) · γ[y] + β[y]``, BN without affine parameters; γ starts at
  1 and β at 0, so at initialisation this is plain BatchNorm. The running
  statistics are shared by all classes (``batch_stats``).
  """

  num_classes: int
  momentum: float = 0.9
  axis_name: str | None = None
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, y: jax.Array, train: bool) -> jax.Array:
    normed = nn.BatchNorm(
      use_running_average=not train,
      momentum=self.momentum,
      axis_name=self.axis_name,
      use_scale=False,
      use_bias=False,
      dtype=self.dtype,
    )(x)
    c = x.shape[-1]
    gain = nn.Embed(self.num_classes, c, embedding_init=nn.initializers.ones)
    bias = nn.Embed(self.num_classes, c, embedding_init=nn.initializers.zeros)
    shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (c,)
    gamma = gain(y).reshape(shape).astype(normed.dtype)
    beta = bias(y).reshape(shape).astype(normed.dtype)
    return normed * gamma + beta


def generator_norm(
  kind: str,
  y: jax.Array | None,
  train: bool,
  *,
  cond: str,
  num_classes: int,
  momentum: float,
  axis_name: str | None,
  dtype: Any = None,
):
  """A generator's normalisation layer: with ``cond="cbn"`` conditional
  BatchNorm on the labels ``y``, else :func:`normalization` of ``kind``."""
  if cond == "cbn":
    cbn = ConditionalBatchNorm(num_classes, momentum, axis_name, dtype)
    return lambda h: cbn(h, y, train)
  return normalization(
    kind, train, momentum=momentum, axis_name=axis_name, dtype=dtype
  )


class Projection(nn.Module):
  """⟨embed(y), h⟩ per example, for features ``h`` of shape (B, F): the
  class term of the projection discriminator. The embedding is spectrally
  normalised with the rest of D when ``spectral_norm`` is on, as SNGAN's."""

  num_classes: int
  spectral_norm: bool = False

  @nn.compact
  def __call__(self, h: jax.Array, y: jax.Array, train: bool) -> jax.Array:
    embed = nn.Embed(
      self.num_classes,
      h.shape[-1],
      embedding_init=nn.initializers.xavier_uniform(),
    )
    e = spectral(embed, self.spectral_norm, train)(y)
    return jnp.sum(e.astype(jnp.float32) * h.astype(jnp.float32), axis=-1)


_LECUN = nn.initializers.lecun_normal()


def generator_input(
  z: jax.Array, y: jax.Array | None, cond: str, num_classes: int
) -> jax.Array:
  """What the generator's first layer sees: ``z``, with ``concat`` the
  one-hot labels appended."""
  if cond == "concat":
    return one_hot_concat(z, y, num_classes)
  return z


def head(
  h: jax.Array,
  logits: jax.Array,
  y: jax.Array | None,
  *,
  cond: str,
  num_classes: int,
  spectral_norm: bool,
  train: bool,
  dense_init=_LECUN,
):
  """A discriminator's output from its last features ``h`` (B, F) and its
  unconditional ``logits`` (B,): with ``projection`` the class term added,
  with ``acgan`` the pair ``(logits, class_logits)``."""
  logits = logits.astype(jnp.float32)
  if cond == "projection":
    return logits + Projection(num_classes, spectral_norm, name="projection")(
      h, y, train
    )
  if cond == "acgan":
    dense = nn.Dense(num_classes, kernel_init=dense_init, name="classifier")
    class_logits = spectral(dense, spectral_norm, train)(h)
    return logits, class_logits.astype(jnp.float32)
  return logits
