"""Test setup: four virtual CPU devices, set before JAX is imported, a
fresh cache, so converted weights and trained classifiers are made anew,
and a fresh TFDS data dir, so datasets are prepared anew (one of each per
pytest-xdist worker), all removed when the session ends."""

import atexit
import os
import shutil
import sys
import tempfile

os.environ["XLA_FLAGS"] = (
  os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")


def _fresh_dir(var: str, prefix: str) -> None:
  """Points ``var`` at a new temporary folder, removed when this process
  ends, unless the environment already names one."""
  if var not in os.environ:
    os.environ[var] = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, os.environ[var], ignore_errors=True)


_fresh_dir("GAN_JAX_CACHE", "gan_jax_cache_")
_fresh_dir("TFDS_DATA_DIR", "gan_jax_tfds_")
# JAX's persistent compilation cache, fresh for the session: tests build the
# same small steps again and again, in this process and in the train
# commands they start, and each is then compiled once (but in multi-process
# commands on JAX 0.12, which turn the cache off: gan_jax.distributed).
_fresh_dir("JAX_COMPILATION_CACHE_DIR", "gan_jax_xla_")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
# Under pytest-xdist the workers inherit the directories above from the
# controlling process, which removes them at its end; each takes its own
# folder inside them, so that no two processes prepare a dataset or convert
# weights into the same place.
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
  for var in ("GAN_JAX_CACHE", "TFDS_DATA_DIR", "JAX_COMPILATION_CACHE_DIR"):
    os.environ[var] = os.path.join(os.environ[var], worker)

import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

from gan_jax import config  # pylint: disable=g-import-not-at-top,wrong-import-position


@pytest.fixture
def tiny_digits() -> config.Config:
  """A DCGAN on the 8×8 digits small enough to compile and run in seconds.

  It uses XLA's own convolutions, which compile in half the time of the
  CPU default's Winograd ones; at this size the step's speed does not
  matter. The default convolutions are checked against XLA's in
  test_winograd and test_matmul_conv, and trained end to end in
  test_smoke, test_parallel and the tests that ask for them.
  """
  cfg = config.Config()
  cfg.model.conv_impl = "xla"
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


@pytest.fixture(autouse=True)
def registries_restored():
  """What a test registers (a loss, an architecture, ...) is gone after it,
  since other tests go through every entry of a registry; so are the
  experiment files it imported, which register theirs when imported
  again."""
  from gan_jax import augment, data, losses, models, optimizers, regularizers  # pylint: disable=g-import-not-at-top
  from gan_jax.metrics import feature_spaces, scores  # pylint: disable=g-import-not-at-top

  registries = (
    augment.AUGMENTATIONS,
    data.SOURCES,
    feature_spaces.FEATURE_SPACES,
    losses.LOSSES,
    models.ARCHITECTURES,
    optimizers.OPTIMIZERS,
    regularizers.REGULARIZERS,
    scores.METRICS,
  )
  kept = [(registry, dict(registry)) for registry in registries]
  imported = set(sys.modules)
  yield
  for registry, entries in kept:
    registry.clear()
    registry.update(entries)
  for name in set(sys.modules) - imported:
    if name.startswith(config.EXPERIMENT_MODULE):
      del sys.modules[name]
