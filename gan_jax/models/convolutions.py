"""How convolutions are computed: the ``conv_impl`` of models and metrics.

* ``winograd``: :mod:`gan_jax.models.winograd` where it pays, else
  :mod:`gan_jax.models.matmul_conv`; the fastest on XLA:CPU;
* ``matmul``: :mod:`gan_jax.models.matmul_conv` alone (im2col and col2im);
* ``xla``: Flax's ``nn.Conv`` and ``nn.ConvTranspose``, XLA's convolutions;
* ``auto``: ``winograd`` on CPU, ``xla`` on GPUs and TPUs (the FID
  Inception, forward only, has its own rule:
  :func:`gan_jax.metrics.inception_features.resolve_conv_impl`).

All have the same parameters and compute the same function (tested against
``lax``); benchmarks/README.md has the measurements.
"""

import functools

import flax.linen as nn
import jax

from gan_jax.models import matmul_conv, winograd

IMPLS = ("auto", "winograd", "matmul", "xla")


def conv_impl(name: str) -> str:
  """``auto`` is ``winograd`` on CPU, where a train step runs several times
  faster than with XLA's convolutions (JAX 0.10.2 and 0.12.1), and XLA's own
  elsewhere, where no measurement says otherwise yet."""
  if name not in IMPLS:
    raise ValueError(f"unknown convolution implementation {name!r}: {IMPLS}")
  if name == "auto":
    return "winograd" if jax.default_backend() == "cpu" else "xla"
  return name


def conv_layers(impl: str, dtype=None, precision=None):
  """(Conv, ConvTranspose) modules of ``impl`` (``auto`` resolved) that
  compute in ``dtype`` at ``precision``: drop-in for Flax's."""
  layers = {
    "winograd": (winograd.Conv, winograd.ConvTranspose),
    "matmul": (matmul_conv.Conv, matmul_conv.ConvTranspose),
    "xla": (nn.Conv, nn.ConvTranspose),
  }[conv_impl(impl)]
  return tuple(
    functools.partial(layer, dtype=dtype, precision=precision)
    for layer in layers
  )
