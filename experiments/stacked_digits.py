"""DCGAN on stacked digits: three real 8×8 digits as the channels, 1,000 modes.

The dcgan_digits experiment with 3-channel data, scored by modes covered and
KL to uniform over 26,000 samples (VEEGAN, PacGAN).

python -m gan_jax.train --config experiments/stacked_digits.py --workdir runs/stacked_digits
"""

from pathlib import Path

from gan_jax import config


def get_config() -> config.Config:
  cfg = config.load(Path(__file__).with_name("dcgan_digits.py"))
  cfg.data.name = "stacked_digits"
  cfg.eval.features = "none"
  cfg.eval.metrics = "stacked_modes"
  cfg.eval.num_samples = 26_000
  cfg.eval.batch_size = 1000
  cfg.eval.best = ""
  return cfg
