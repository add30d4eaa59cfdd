"""Optimizers by name: each builds an ``optax.GradientTransformation``.

The train step accepts any ``GradientTransformation``; this registry only
lets a plain-data config choose one. Register your own with
``@OPTIMIZERS.register("name")`` on a function of an ``OptimizerConfig``.
"""

import optax

from gan_jax.config import OptimizerConfig
from gan_jax.registry import Registry

OPTIMIZERS = Registry("optimizer")


@OPTIMIZERS.register("adam")
def adam(cfg: OptimizerConfig) -> optax.GradientTransformation:
  return optax.adam(cfg.lr, b1=cfg.b1, b2=cfg.b2)


@OPTIMIZERS.register("rmsprop")
def rmsprop(cfg: OptimizerConfig) -> optax.GradientTransformation:
  """RMSProp as in the original WGAN; ``b2`` is the squared-gradient decay."""
  return optax.rmsprop(cfg.lr, decay=cfg.b2)


@OPTIMIZERS.register("sgd")
def sgd(cfg: OptimizerConfig) -> optax.GradientTransformation:
  """SGD with momentum ``b1`` (none when 0)."""
  return optax.sgd(cfg.lr, momentum=cfg.b1 or None)


def build(cfg: OptimizerConfig) -> optax.GradientTransformation:
  return OPTIMIZERS[cfg.name](cfg)
