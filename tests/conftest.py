"""Test setup: four virtual CPU devices, set before JAX is imported, a
fresh cache, so converted weights and trained classifiers are made anew,
and a fresh TFDS data dir, so datasets are prepared anew."""

import os
import tempfile

os.environ["XLA_FLAGS"] = (
  os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault(
  "GAN_JAX_CACHE", tempfile.mkdtemp(prefix="gan_jax_cache_")
)
os.environ.setdefault("TFDS_DATA_DIR", tempfile.mkdtemp(prefix="gan_jax_tfds_"))

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


@pytest.fixture(scope="session", autouse=True)
def prepared_digits():
  """The digits as a TFDS dataset, prepared once for the session, so that
  tests of other behaviour do not see the first-use preparation."""
  from gan_jax.data import prepare, tfds_source  # pylint: disable=g-import-not-at-top

  prepare.ready("digits", tfds_source.data_dir())
