"""Spectral normalisation is a reparameterisation: parameters stay W, the
layer computes with W/σ(W), and the power-iteration vector is model state."""

import dataclasses

import jax
import numpy as np
import pytest

from gan_jax import config, models


def _pair(spectral: bool, arch: str, conv_impl="xla"):
  cfg = dataclasses.replace(
    config.ModelConfig(),
    arch=arch,
    width=8,
    d_norm="none",
    d_spectral_norm=spectral,
    conv_impl=conv_impl,
    hidden=16,
    depth=2,
  )
  shape = (8, 8, 1) if arch == "dcgan" else (2,)
  return models.build(cfg, shape)[1], shape


def _sigma(kernel) -> float:
  w = np.asarray(kernel, np.float64)
  return np.linalg.svd(w.reshape(-1, w.shape[-1]), compute_uv=False)[0]


@pytest.mark.parametrize(
  "arch, conv_impl", [("dcgan", "xla"), ("dcgan", "matmul"), ("mlp", "xla")]
)
def test_discriminator_computes_with_weights_over_their_spectral_norm(
  arch, conv_impl
):
  d_sn, shape = _pair(True, arch, conv_impl)
  d_plain, _ = _pair(False, arch, conv_impl)
  x = jax.random.normal(jax.random.key(0), (4, *shape))
  params, state = d_sn.init(jax.random.key(1), x)
  plain_params, plain_state = d_plain.init(jax.random.key(1), x)
  # The parameters are the plain model's, drawn alike (not W/σ, which
  # Linen's SpectralNorm would store at init); only the state holds u and σ.
  assert jax.tree.structure(params) == jax.tree.structure(plain_params)
  for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(plain_params)):
    np.testing.assert_array_equal(a, b)
  assert plain_state == {} and "batch_stats" in state

  before = jax.tree.map(np.asarray, params)
  apply = jax.jit(d_sn.apply, static_argnums=3)
  for _ in range(30):  # Power iteration converges on the training calls.
    _, state = apply(params, state, x, True)
  for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(params)):
    np.testing.assert_array_equal(a, b)  # untouched
  _, frozen = apply(params, state, x, False)
  assert jax.tree.all(jax.tree.map(np.array_equal, frozen, state)), (
    "evaluation leaves u alone"
  )

  # The same function as the plain model with every kernel divided by its
  # largest singular value (biases untouched).
  normalised = jax.tree.map_with_path(
    lambda path, w: w / _sigma(w) if path[-1].key == "kernel" else w, params
  )
  got, _ = d_sn.apply(params, state, x, False)
  want, _ = d_plain.apply(normalised, plain_state, x, False)
  np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-5)
  sigmas = [
    v
    for p, v in jax.tree.leaves_with_path(state)
    if p[-1].key.endswith("sigma")
  ]
  kernels = [
    w for p, w in jax.tree.leaves_with_path(params) if p[-1].key == "kernel"
  ]
  assert len(sigmas) == len(kernels) > 1
