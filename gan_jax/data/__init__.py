"""Data sources by name.

``data.name`` is a source registered here (procedural data: the Gaussian
mixtures, stacked digits) or a TFDS dataset (:mod:`gan_jax.data.tfds_source`:
``digits``, ``fashion_mnist``, ``cifar10``, a prepared folder, ...).
Register your own with ``@SOURCES.register(name)`` on a function of the seed
that returns a :class:`~gan_jax.data.source.Source`.
"""

from gan_jax.data import mixtures, stacked_digits
from gan_jax.data.pipeline import Pipeline, Shard
from gan_jax.data.source import InMemory, Source, num_classes, value_range
from gan_jax.registry import Registry

SOURCES = Registry("data source")
SOURCES.register("mog_ring")(mixtures.ring)
SOURCES.register("mog_grid")(mixtures.grid)
SOURCES.register("stacked_digits")(stacked_digits.source)

__all__ = [
  "SOURCES",
  "InMemory",
  "Pipeline",
  "Shard",
  "Source",
  "build",
  "num_classes",
  "value_range",
]


def build(cfg, seed: int) -> Source:
  """The source of ``cfg``: a :class:`gan_jax.config.DataConfig`, or a name
  (read with the DataConfig defaults)."""
  if isinstance(cfg, str):
    from gan_jax.config import DataConfig  # pylint: disable=g-import-not-at-top

    cfg = DataConfig(name=cfg)
  if cfg.name in SOURCES:
    return SOURCES[cfg.name](seed)
  from gan_jax.data import tfds_source  # pylint: disable=g-import-not-at-top

  return tfds_source.TfdsSource(cfg, seed)
