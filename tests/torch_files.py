"""Writes PyTorch weight files without PyTorch, to test the reader.

Both containers of ``torch.save``: the zip of PyTorch ≥ 1.6 and the legacy
stream (magic number, protocol, system info, object pickle, storage keys,
then each storage as an int64 element count and its bytes). Tensors pickle
as ``torch._utils._rebuild_tensor_v2`` over a ``torch.FloatStorage``
persistent id, as PyTorch writes them; stand-in modules named ``torch`` and
``torch._utils`` exist only while pickling.
"""

import collections
import contextlib
import io
import pickle
import struct
import sys
import types
import zipfile

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _rebuild_tensor_v2(*args):
  raise AssertionError("only pickled, never called", args)


class FloatStorage:
  pass


_rebuild_tensor_v2.__module__ = "torch._utils"
FloatStorage.__module__ = "torch"


@contextlib.contextmanager
def _stand_in_torch():
  torch = types.ModuleType("torch")
  utils = types.ModuleType("torch._utils")
  torch.FloatStorage, utils._rebuild_tensor_v2 = (
    FloatStorage,
    _rebuild_tensor_v2,
  )
  saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
  sys.modules.update({"torch": torch, "torch._utils": utils})
  try:
    yield
  finally:
    for k, v in saved.items():
      if v is None:
        sys.modules.pop(k)
      else:
        sys.modules[k] = v


class _Storage:
  def __init__(self, key: str, array: np.ndarray):
    self.key, self.array = key, array


class _Tensor:
  def __init__(self, storage: _Storage):
    self.storage = storage

  def __reduce__(self):
    a = self.storage.array
    stride = tuple(s // a.itemsize for s in a.strides)
    args = (self.storage, 0, a.shape, stride, False, collections.OrderedDict())
    return (_rebuild_tensor_v2, args)


class _Pickler(pickle.Pickler):
  def __init__(self, file, legacy: bool):
    super().__init__(file, protocol=2)
    self.legacy = legacy

  def persistent_id(self, obj):
    if not isinstance(obj, _Storage):
      return None
    pid = ("storage", FloatStorage, obj.key, "cpu", obj.array.size)
    return pid + (None,) if self.legacy else pid


def _state_dict(arrays: dict[str, np.ndarray]):
  storages = {
    name: _Storage(str(i), np.ascontiguousarray(a, np.float32))
    for i, (name, a) in enumerate(arrays.items())
  }
  tensors = collections.OrderedDict(
    (name, _Tensor(s)) for name, s in storages.items()
  )
  return tensors, list(storages.values())


def save_zip(path, arrays: dict[str, np.ndarray]) -> None:
  tensors, storages = _state_dict(arrays)
  buffer = io.BytesIO()
  with _stand_in_torch():
    _Pickler(buffer, legacy=False).dump(tensors)
  with zipfile.ZipFile(path, "w") as z:
    z.writestr("archive/data.pkl", buffer.getvalue())
    z.writestr("archive/version", "3\n")
    for s in storages:
      z.writestr(f"archive/data/{s.key}", s.array.tobytes())


def save_legacy(path, arrays: dict[str, np.ndarray]) -> None:
  tensors, storages = _state_dict(arrays)
  with open(path, "wb") as f, _stand_in_torch():
    for header in (_LEGACY_MAGIC, 1001, {"little_endian": True}):
      pickle.dump(header, f, protocol=2)
    _Pickler(f, legacy=True).dump(tensors)
    pickle.dump([s.key for s in storages], f, protocol=2)
    for s in storages:
      f.write(struct.pack("<q", s.array.size))
      f.write(s.array.tobytes())
