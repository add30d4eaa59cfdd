"""Data sources by name. Register your own with ``@SOURCES.register(name)``
on a function of the seed that returns a :class:`~gan_jax.data.source.Source`."""

from gan_jax.data import digits, mixtures, stacked_digits
from gan_jax.data.source import InMemory, Source
from gan_jax.registry import Registry

SOURCES = Registry("data source")
SOURCES.register("digits")(digits.source)
SOURCES.register("mog_ring")(mixtures.ring)
SOURCES.register("mog_grid")(mixtures.grid)
SOURCES.register("stacked_digits")(stacked_digits.source)

__all__ = ["SOURCES", "InMemory", "Source", "build"]


def build(name: str, seed: int) -> Source:
  return SOURCES[name](seed)
