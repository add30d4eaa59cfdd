"""DCGAN on the 1,797 real 8×8 digits inside scikit-learn (no download).

python -m gan_jax.train --config experiments/dcgan_digits.py --workdir runs/dcgan_digits
"""

from gan_jax.config import Config


def get_config() -> Config:
  cfg = Config()
  cfg.data.name = "digits"
  cfg.model.arch = "dcgan"
  cfg.model.latent_dim = 64
  cfg.model.width = 64
  # One 3×3 block at 4×4 deepens G; more collapses it onto one digit, and
  # the same block in D is ~20× slower on XLA:CPU (see experiments/README.md).
  cfg.model.g_extra_layers = 1
  cfg.steps = 10000
  cfg.batch_size = 64
  cfg.log_every = 100
  cfg.sample_every = 1000
  cfg.checkpoint_every = 5000
  # Scores in the digits classifier's feature space (a digits-FID, no
  # Inception), against all 1,797 real digits; the best FID is kept.
  cfg.eval.every = 2000
  cfg.eval.features = "digits"
  cfg.eval.metrics = "fid,kid,is,precision_recall,density_coverage"
  cfg.eval.num_samples = 2000
  cfg.eval.best = "fid"
  return cfg
