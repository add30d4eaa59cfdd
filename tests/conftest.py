"""Test setup: four virtual CPU devices, set before JAX is imported."""

import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=4").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

from gan_jax import config  # pylint: disable=g-import-not-at-top,wrong-import-position


@pytest.fixture
def tiny_digits() -> config.Config:
  """A DCGAN on the 8×8 digits small enough to compile and run in seconds."""
  cfg = config.Config()
  cfg.model.width = 8
  cfg.model.latent_dim = 16
  cfg.batch_size = 32
  cfg.steps = 8
  cfg.log_every = 2
  cfg.sample_every = 4
  cfg.checkpoint_every = 4
  return cfg
