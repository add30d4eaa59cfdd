"""Reads PyTorch weight files into NumPy arrays, without PyTorch.

Two containers are understood:

* the zip container of ``torch.save`` (PyTorch ≥ 1.6) and of TorchScript
  (``torch.jit.save``): ``<root>/data.pkl`` plus one file per storage under
  ``<root>/data/<key>``;
* the legacy ``torch.save`` stream: a magic number, a protocol number, system
  info, the object pickle, the list of storage keys, then the raw storages.

Only tensors, containers and TorchScript module attributes are rebuilt. The
unpickler resolves a short allow-list of names and refuses everything else,
so reading a file never runs code from it.
"""

import collections
import dataclasses
import io
import pickle
import struct
import zipfile
from typing import Any, BinaryIO

import numpy as np

_STORAGE_DTYPES = {
  "FloatStorage": np.float32,
  "DoubleStorage": np.float64,
  "HalfStorage": np.float16,
  "LongStorage": np.int64,
  "IntStorage": np.int32,
  "ShortStorage": np.int16,
  "CharStorage": np.int8,
  "ByteStorage": np.uint8,
  "BoolStorage": np.bool_,
}
_SCRIPT_LISTS = ("build_intlist", "build_doublelist", "build_boollist")
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class TorchFileError(ValueError):
  """The file is not a PyTorch weight file this reader understands."""


class ScriptObject:
  """A TorchScript module: its type name and its attributes."""

  type_name = ""

  def __init__(self, attributes=None):
    self.attributes = dict(attributes or {})

  def __setstate__(self, state):
    self.attributes = dict(state)


@dataclasses.dataclass(frozen=True)
class _StorageType:
  dtype: Any


def _rebuild_tensor(storage, offset, size, stride, *unused):
  if isinstance(storage, _Deferred):
    return _LazyTensor(storage, offset, size, stride)
  if not size:
    return np.array(storage[offset], copy=True)
  view = np.lib.stride_tricks.as_strided(
    storage[offset:],
    shape=tuple(size),
    strides=tuple(s * storage.itemsize for s in stride),
  )
  return np.array(view, copy=True)


def _rebuild_parameter(data, *unused):
  return data


class _Unpickler(pickle.Unpickler):
  """Rebuilds tensors from ``storages(key, dtype, numel)``; allow-listed names."""

  def __init__(self, file, storages):
    super().__init__(file)
    self._storages = storages

  def find_class(self, module, name):
    if module == "collections" and name == "OrderedDict":
      return collections.OrderedDict
    if module == "torch._utils" and name == "_rebuild_tensor_v2":
      return _rebuild_tensor
    if module == "torch._utils" and name == "_rebuild_parameter":
      return _rebuild_parameter
    if module == "torch.jit._pickle" and name in _SCRIPT_LISTS:
      return list
    if module == "torch" and name in _STORAGE_DTYPES:
      return _StorageType(_STORAGE_DTYPES[name])
    if module.startswith("__torch__"):
      return type(name, (ScriptObject,), {"type_name": f"{module}.{name}"})
    raise TorchFileError(f"unsupported object {module}.{name} in the file")

  def persistent_load(self, pid):
    if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
      raise TorchFileError(f"unsupported persistent id {pid!r}")
    storage_type, key, numel = pid[1], str(pid[2]), pid[4]
    if not isinstance(storage_type, _StorageType):
      raise TorchFileError(f"unsupported storage type {storage_type!r}")
    return self._storages(key, storage_type.dtype, numel)


def _load_zip(archive: zipfile.ZipFile) -> Any:
  pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
  if len(pickles) != 1:
    raise TorchFileError("zip file without exactly one data.pkl")
  root = pickles[0][: -len("data.pkl")]

  def storage(key, dtype, numel):
    raw = archive.read(f"{root}data/{key}")
    return np.frombuffer(raw, dtype=dtype, count=numel)

  return _Unpickler(io.BytesIO(archive.read(pickles[0])), storage).load()


def _load_legacy(stream: BinaryIO) -> Any:
  def bare_load():
    return _Unpickler(stream, _no_storages).load()

  if bare_load() != _LEGACY_MAGIC:
    raise TorchFileError("not a PyTorch file (bad magic number)")
  bare_load()  # protocol version
  bare_load()  # system info
  pending = {}

  def storage(key, dtype, numel):
    del numel
    return _Deferred(pending.setdefault(key, [dtype, None]))

  result = _Unpickler(stream, storage).load()
  for key in bare_load():
    dtype, _ = pending[key]
    (numel,) = struct.unpack("<q", stream.read(8))
    raw = stream.read(numel * np.dtype(dtype).itemsize)
    pending[key][1] = np.frombuffer(raw, dtype=dtype, count=numel)
  return _resolve(result)


def _no_storages(*unused):
  raise TorchFileError("unexpected storage before the object pickle")


class _Deferred:
  """A storage that comes later in a legacy stream: ``cell = [dtype, array]``."""

  def __init__(self, cell):
    self.cell = cell


def _resolve(obj):
  """Replaces legacy placeholders by arrays once all storages are read."""
  if isinstance(obj, _LazyTensor):
    return obj.materialize()
  if isinstance(obj, dict):
    return type(obj)((k, _resolve(v)) for k, v in obj.items())
  if isinstance(obj, list):
    return [_resolve(v) for v in obj]
  if isinstance(obj, ScriptObject):
    obj.attributes = _resolve(obj.attributes)
  return obj


class _LazyTensor:
  """A tensor of a legacy stream, rebuilt once its storage has been read."""

  def __init__(self, deferred, offset, size, stride):
    self.deferred = deferred
    self.offset, self.size, self.stride = offset, size, stride

  def materialize(self):
    return _rebuild_tensor(
      self.deferred.cell[1], self.offset, self.size, self.stride
    )


def load(path: str) -> Any:
  """The object saved in a PyTorch or TorchScript file, tensors as arrays."""
  try:
    if zipfile.is_zipfile(path):
      with zipfile.ZipFile(path) as archive:
        return _load_zip(archive)
    with open(path, "rb") as stream:
      return _load_legacy(stream)
  except TorchFileError:
    raise
  except (
    pickle.UnpicklingError,
    EOFError,
    KeyError,
    ValueError,
    struct.error,
    zipfile.BadZipFile,
  ) as e:
    raise TorchFileError(f"cannot read {path}: {e}") from e


def tensors(obj: Any, prefix: str = "") -> dict[str, np.ndarray]:
  """Flattens modules and state dicts to ``{"a.b.weight": array}``."""
  if isinstance(obj, np.ndarray):
    return {prefix: obj}
  if isinstance(obj, ScriptObject):
    obj = obj.attributes
  if not isinstance(obj, dict):
    return {}
  found = {}
  for name, value in obj.items():
    found.update(tensors(value, f"{prefix}.{name}" if prefix else name))
  return found
