"""A tiny name -> component registry, so configs stay plain data.

Experiments register their own pure functions under a new name and select
them in the config by that name.
"""

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Registry(dict):
  """A dict with a ``register(name)`` decorator that refuses duplicates."""

  def __init__(self, kind: str):
    super().__init__()
    self.kind = kind

  def register(self, name: str) -> Callable[[T], T]:
    def add(obj: T) -> T:
      if name in self and self[name] is not obj:
        raise ValueError(f"{self.kind} {name!r} is already registered")
      self[name] = obj
      return obj

    return add
