"""Test setup: four virtual CPU devices, set before JAX is imported, and a
fresh cache, so converted weights and trained classifiers are made anew."""

import os
import tempfile

os.environ["XLA_FLAGS"] = (
  os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault(
  "GAN_JAX_CACHE", tempfile.mkdtemp(prefix="gan_jax_cache_")
)

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
