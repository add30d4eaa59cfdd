"""Inception features of uint8 images, in batches, sharded over devices.

Images are ``(N, H, W, C)`` uint8 with C = 1 or 3 (grey is repeated to RGB),
resized to 299×299 (:mod:`gan_jax.metrics.resize`), scaled as
``(x − 128) / 128`` and passed through the FID Inception. Every call runs on
the same padded batch shape, so the network compiles once. With several
devices the batch is split over a one-axis mesh of this process's devices:
in a multi-process run every process scores the samples it is given on its
own devices (evaluations during training give every process the same ones).
"""

import functools
from collections.abc import Iterable, Iterator

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from gan_jax.metrics import inception, inception_weights, resize
from gan_jax.models import convolutions

SIZE = 299


def to_uint8(samples: np.ndarray) -> np.ndarray:
  """Generator output in [-1, 1] -> uint8, rounded as saved images are."""
  scaled = (np.asarray(samples, np.float32) + 1.0) * 127.5
  return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


class InceptionFeatures:
  """``extractor(images) -> {"pool3": (N, 2048), "logits": (N, 1008)}``."""

  def __init__(
    self,
    batch_size: int = 50,
    with_logits: bool = False,
    resize_mode: str = "tf_bilinear",
    precision=jax.lax.Precision.HIGHEST,
    devices=None,
    conv_impl: str = "auto",
  ):
    """``precision``: of the convolutions. HIGHEST keeps float32 on GPUs
    whose default is TF32, so features match the reference; pass None for
    the backend's default (faster, further from the published numbers).
    ``devices``: this process's devices to shard the batch over (default:
    all of them, ``jax.local_devices()``). ``conv_impl``: how the
    convolutions are computed (:mod:`gan_jax.models.convolutions`; ``auto``:
    :func:`resolve_conv_impl`). The features agree to float32 rounding."""
    if resize_mode not in resize.MODES:
      raise ValueError(f"resize mode {resize_mode!r} not in {resize.MODES}")
    devices = list(devices or jax.local_devices())
    if any(d.process_index != jax.process_index() for d in devices):
      raise ValueError("InceptionFeatures runs on this process's devices only")
    self.batch_size = -(-batch_size // len(devices)) * len(devices)
    self.with_logits = with_logits
    self.resize_mode = resize_mode
    self.conv_impl = resolve_conv_impl(conv_impl)
    self._network = _network(with_logits, precision, self.conv_impl)
    path = inception_weights.weights_file(with_logits)
    self.weights_name = path.stem
    params = inception_weights.read(path, with_logits)
    mesh = Mesh(np.array(devices), ("data",))
    self._batch_sharding = NamedSharding(mesh, PartitionSpec("data"))
    self._params = jax.device_put(params, NamedSharding(mesh, PartitionSpec()))

  def _run(self, images: np.ndarray):
    n = len(images)
    padded = np.zeros((self.batch_size, *images.shape[1:]), np.uint8)
    padded[:n] = images
    batch = jax.device_put(padded, self._batch_sharding)
    x = _network_input(batch, self.resize_mode)
    pool3, logits = self._network(self._params, x)
    pool3 = np.asarray(pool3)[:n]
    logits = None if logits is None else np.asarray(logits)[:n]
    return pool3, logits

  def batches(self, images: Iterable[np.ndarray]) -> Iterator[dict]:
    """Features of each incoming uint8 batch, re-chunked to ``batch_size``."""
    for chunk in images:
      chunk = _check(chunk)
      for start in range(0, len(chunk), self.batch_size):
        pool3, logits = self._run(chunk[start : start + self.batch_size])
        yield {"pool3": pool3} | (
          {"logits": logits} if self.with_logits else {}
        )

  def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
    parts = list(self.batches([images]))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def resolve_conv_impl(name: str) -> str:
  """``auto``: Winograd's convolutions on CPU with JAX 0.10, whose XLA:CPU
  runs this network's convolutions at half their speed, and XLA's own
  elsewhere: JAX 0.11 and 0.12 run them 1.1 times as fast as Winograd's
  (benchmarks/README.md). Other names as :mod:`gan_jax.models.convolutions`.
  """
  if name != "auto":
    return convolutions.conv_impl(name)
  slow_xla = jax.__version_info__ < (0, 11) and jax.default_backend() == "cpu"
  return "winograd" if slow_xla else "xla"


@functools.cache
def _network(with_logits: bool, precision, conv_impl: str):
  """The jitted network, one for every extractor of these settings, so that
  it compiles once per process for each batch shape and sharding, whatever
  the images' size (Winograd's version takes about 7 s to compile on CPU)."""
  net = inception.InceptionV3(with_logits, precision, conv_impl)
  return jax.jit(lambda params, x: net.apply({"params": params}, x))


@functools.partial(jax.jit, static_argnames="mode")
def _network_input(images, mode: str):
  """uint8 images → RGB, resized to 299×299, scaled as (x − 128) / 128."""
  x = images.astype(jnp.float32)
  if x.shape[-1] == 1:
    x = jnp.repeat(x, 3, axis=-1)
  x = resize.resize(x, SIZE, mode)
  return (x - 128.0) / 128.0


def _check(images) -> np.ndarray:
  images = np.asarray(images)
  if images.dtype != np.uint8:
    raise ValueError(f"images must be uint8, got {images.dtype}")
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"images must be (N, H, W, 1 or 3), got {images.shape}")
  return images
