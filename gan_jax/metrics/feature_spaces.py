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
the eval config returning such a mapping.
"""

import numpy as np

from gan_jax.registry import Registry

FEATURE_SPACES = Registry("feature space")


@FEATURE_SPACES.register("inception")
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
def points(cfg):
  del cfg
  return lambda samples: {"features": np.asarray(samples, np.float32)}


@FEATURE_SPACES.register("none")
def none(cfg):
  del cfg
  return lambda samples: {}
