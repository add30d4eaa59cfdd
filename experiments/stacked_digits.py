"""DCGAN on stacked digits: three real 8×8 digits as the channels, 1,000 modes.

python -m gan_jax.train --config experiments/stacked_digits.py --workdir runs/stacked_digits
"""

from gan_jax.config import Config


def get_config() -> Config:
  cfg = Config()
  cfg.data.name = "stacked_digits"
  cfg.model.arch = "dcgan"
  cfg.model.latent_dim = 64
  cfg.model.width = 64
  # As in dcgan_digits: one 3×3 block at 4×4 in G only.
  cfg.model.g_extra_layers = 1
  cfg.steps = 10000
  cfg.batch_size = 64
  cfg.log_every = 100
  cfg.sample_every = 1000
  cfg.checkpoint_every = 5000
  # Modes covered and KL to uniform over 26,000 samples (VEEGAN, PacGAN).
  cfg.eval.every = 2000
  cfg.eval.features = "none"
  cfg.eval.metrics = "stacked_modes"
  cfg.eval.num_samples = 26_000
  cfg.eval.batch_size = 1000
  return cfg
