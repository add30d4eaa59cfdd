"""Feature spaces that metrics compare real and generated samples in.

A feature space is built from the eval config and maps a batch of samples
(float, images in [-1, 1]: the evaluator maps data of another
``data.value_range`` to it) to a dict with ``features`` (N, D) and, where
the space has a classifier, ``logits``.

* ``inception``: the FID Inception's pool3 (and logits with pytorch-fid's
  weights); samples are rounded to uint8 first, as saved images are.
* ``digits``: the small classifier trained on scikit-learn's 8×8 digits
  (:mod:`gan_jax.metrics.digits_classifier`), for a "digits-FID" that needs
  no Inception.
* ``points``: the samples themselves (2-D mixtures).
* ``none``: no features; for metrics that read the samples (mode counts).

Register your own with ``@FEATURE_SPACES.register(name)`` on a function of
the eval config returning such a mapping. Decorate that function with
``@takes(check)`` too, ``check(example_shape)`` saying what the space
cannot take (or ``None``), and a run whose data it cannot take stops
before training rather than at its first evaluation.
"""

import numpy as np

from gan_jax.registry import Registry

FEATURE_SPACES = Registry("feature space")


def takes(check):
  """Declares the examples a feature space takes: ``check(example_shape)``
  returns what it cannot take, as words after the space's name ("takes
  ..."), or ``None``; read by :func:`input_problem`."""

  def declare(build):
    build.input_problem = check
    return build

  return declare


def input_problem(name: str, example_shape: tuple[int, ...]) -> str | None:
  """What feature space ``name`` says of examples of ``example_shape``;
  ``None`` when it takes them or declares nothing."""
  check = getattr(FEATURE_SPACES[name], "input_problem", None)
  return check(tuple(example_shape)) if check else None


def _images(shape):
  if len(shape) != 3 or shape[-1] not in (1, 3):
    return "takes images (H×W×1 or H×W×3)"
  return None


def _digit_images(shape):
  return None if shape == (8, 8, 1) else "takes 8×8×1 images (the digits)"


def _vectors(shape):
  return None if len(shape) == 1 else "takes vectors (2-D points)"


@FEATURE_SPACES.register("inception")
@takes(_images)
def inception(cfg):
  from gan_jax.metrics import inception_features  # pylint: disable=g-import-not-at-top

  extractor = inception_features.InceptionFeatures(
    batch_size=cfg.batch_size,
    with_logits=cfg.inception_logits,
    resize_mode=cfg.resize,
  )

  def apply(samples):
    out = extractor(inception_features.to_uint8(samples))
    return {"features": out["pool3"]} | (
      {"logits": out["logits"]} if "logits" in out else {}
    )

  apply.version = extractor.weights_name
  return apply


@FEATURE_SPACES.register("digits")
@takes(_digit_images)
def digits(cfg):
  del cfg
  from gan_jax.metrics import digits_classifier  # pylint: disable=g-import-not-at-top

  classifier = digits_classifier.load_classifier()

  def apply(samples):
    samples = np.asarray(samples, np.float32)
    if samples.shape[1:] != (8, 8, 1):
      raise ValueError(
        f"the digits feature space takes 8×8×1 images, got {samples.shape[1:]}"
      )
    return {
      "features": np.asarray(classifier.features(samples)),
      "logits": np.asarray(classifier.logits(samples)),
    }

  apply.version = digits_classifier.VERSION
  return apply


@FEATURE_SPACES.register("points")
@takes(_vectors)
def points(cfg):
  del cfg
  return lambda samples: {"features": np.asarray(samples, np.float32)}


@FEATURE_SPACES.register("none")
def none(cfg):
  del cfg
  return lambda samples: {}
