"""Differentiable augmentations as pure functions of a key and a batch.

DiffAugment (Zhao et al. 2020) augments what the discriminator sees, real
and fake alike, with transformations that gradients pass through, so the
generator still learns through them. Each function maps ``(key, x)`` with
``x`` of shape (batch, height, width, channels), values in [-1, 1], to a
batch of the same shape, drawing one transformation per sample (``policy``
maps data in another range, such as [0, 1], to [-1, 1] and back):

- ``color``: brightness (+U[-½, ½)), saturation (×U[0, 2)) and contrast
  (×U[½, 1½));
- ``translation``: a shift of up to 1/8 of each side, filled with zeros;
- ``cutout``: a zeroed square of half the side at a random place.

``policy("color,translation,cutout")`` composes them, the DiffAugment
paper's choice for small data. Each transformation of a policy is applied
to each sample with probability ``p`` (1 for DiffAugment; adapted during
training by ADA's heuristic, :func:`ada_update`). Register your own in
:data:`AUGMENTATIONS`.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from gan_jax.registry import Registry

Array = jax.Array
Augmentation = Callable[[Array, Array], Array]

AUGMENTATIONS = Registry("augmentation")


def _per_sample(key: Array, x: Array, low: float, high: float) -> Array:
  shape = (x.shape[0], 1, 1, 1)
  return jax.random.uniform(key, shape, x.dtype, low, high)


@AUGMENTATIONS.register("brightness")
def brightness(key: Array, x: Array) -> Array:
  return x + _per_sample(key, x, -0.5, 0.5)


@AUGMENTATIONS.register("saturation")
def saturation(key: Array, x: Array) -> Array:
  mean = jnp.mean(x, axis=3, keepdims=True)
  return (x - mean) * _per_sample(key, x, 0.0, 2.0) + mean


@AUGMENTATIONS.register("contrast")
def contrast(key: Array, x: Array) -> Array:
  mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
  return (x - mean) * _per_sample(key, x, 0.5, 1.5) + mean


@AUGMENTATIONS.register("color")
def color(key: Array, x: Array) -> Array:
  keys = jax.random.split(key, 3)
  return contrast(keys[2], saturation(keys[1], brightness(keys[0], x)))


@AUGMENTATIONS.register("translation")
def translation(key: Array, x: Array, ratio: float = 0.125) -> Array:
  """Shifts each sample by up to ``ratio`` of its height and width (whole
  pixels, each direction uniform), filling with zeros."""
  n, h, w, _ = x.shape
  sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
  ky, kx = jax.random.split(key)
  shifts = jnp.stack(
    [
      jax.random.randint(ky, (n,), -sh, sh + 1),
      jax.random.randint(kx, (n,), -sw, sw + 1),
    ],
    axis=1,
  )
  padded = jnp.pad(x, ((0, 0), (sh, sh), (sw, sw), (0, 0)))

  def shift(image, d):
    return jax.lax.dynamic_slice(
      image, (sh - d[0], sw - d[1], 0), (h, w, image.shape[2])
    )

  return jax.vmap(shift)(padded, shifts)


@AUGMENTATIONS.register("cutout")
def cutout(key: Array, x: Array, ratio: float = 0.5) -> Array:
  """Zeroes a square of ``ratio`` of the side in each sample, centred at a
  uniform position (it may be cut by the border)."""
  n, h, w, _ = x.shape
  ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
  ky, kx = jax.random.split(key)
  cy = jax.random.randint(ky, (n, 1, 1), 0, h + (1 - ch % 2))
  cx = jax.random.randint(kx, (n, 1, 1), 0, w + (1 - cw % 2))
  rows = jnp.arange(h)[None, :, None]
  cols = jnp.arange(w)[None, None, :]
  inside = (
    (rows >= cy - ch // 2)
    & (rows < cy - ch // 2 + ch)
    & (cols >= cx - cw // 2)
    & (cols < cx - cw // 2 + cw)
  )
  return jnp.where(inside[..., None], jnp.zeros((), x.dtype), x)


def policy(
  spec: str, value_range: tuple[float, float] = (-1.0, 1.0)
) -> Augmentation | None:
  """The composition of the comma-separated augmentations in ``spec``
  (``""``: None, no augmentation). Raises ValueError for unknown names.

  ``value_range``: the data's (low, high). The augmentations are defined on
  [-1, 1], so other ranges are mapped there and back: with
  ``data.value_range=0,1`` a translation fills with 0.5, mid-grey, as it
  fills with 0 on [-1, 1]."""
  names = [s.strip() for s in spec.split(",") if s.strip()]
  for name in names:
    if name not in AUGMENTATIONS:
      raise ValueError(
        f"augmentation {name!r} is not registered; choose from "
        f"{', '.join(sorted(AUGMENTATIONS))}"
      )
  if not names:
    return None
  fns = [AUGMENTATIONS[name] for name in names]

  def augment(key: Array, x: Array, p: Array | float = 1.0) -> Array:
    """Each transformation applied to each sample with probability p."""
    for i, fn in enumerate(fns):
      key_i = jax.random.fold_in(key, i)
      y = fn(key_i, x)
      if not (isinstance(p, float) and p >= 1.0):
        chosen = jax.random.uniform(
          jax.random.fold_in(key, 1000 + i), (x.shape[0], 1, 1, 1)
        )
        y = jnp.where(chosen < p, y, x)
      x = y
    return x

  low, high = map(float, value_range)
  if (low, high) == (-1.0, 1.0):
    return augment

  def in_value_range(key: Array, x: Array, p: Array | float = 1.0) -> Array:
    scale = (high - low) / 2
    return augment(key, (x - low) / scale - 1, p) * scale + (low + scale)

  return in_value_range


def ada_update(p: Array, rt: Array, target: float, step: float) -> Array:
  """ADA's adjustment (Karras et al. 2020): ``rt`` = E[sign(D(real))] is
  the discriminator's overfitting signal; p rises by ``step`` when it
  exceeds ``target`` and falls by as much otherwise, clipped to [0, 1].
  With ``step`` = images per step / (ada_kimg·1000), p can cross [0, 1] in
  ``ada_kimg`` thousand images. (ADA adjusts every 4 steps on their pooled
  r_t; this adjusts every step by a quarter as much on each step's.)"""
  return jnp.clip(p + jnp.sign(rt - target) * step, 0.0, 1.0)
