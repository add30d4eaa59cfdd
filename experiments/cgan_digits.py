"""Class-conditional DCGAN on the 8×8 digits: conditional BatchNorm in G and
a projection discriminator (Miyato and Koyama 2018), as SNGAN conditions.

python -m gan_jax.train --config experiments/cgan_digits.py --workdir runs/cgan_digits
python -m gan_jax.explore --workdir runs/cgan_digits classes

The ACGAN variant: add ``model.d_cond=acgan`` (auxiliary classifier, Odena
et al. 2017); the one-hot cGAN generator: ``model.g_cond=concat``. Scores:
digits-FID, the digits reached (``digit_modes``) and ``class_accuracy``,
the fraction of samples the digits classifier reads as the digit asked for.
Results in experiments/README.md.
"""

from pathlib import Path

from gan_jax import config


def get_config() -> config.Config:
  cfg = config.load(Path(__file__).with_name("dcgan_digits.py"))
  cfg.model.g_cond = "cbn"
  cfg.model.d_cond = "projection"
  cfg.eval.metrics = "fid,digit_modes,digit_accuracy"
  return cfg
