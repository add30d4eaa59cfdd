"""Loss × spectral-norm ablation on the embedded digits (the techniques issue).

The default DCGAN (experiments/dcgan_digits.py) with a discriminator
without BatchNorm, so that spectral normalisation is the only difference
between the two columns, trained 5,000 steps and scored at the end by
digits-FID and the digit classes reached (10 modes). Rows, three seeds
each (add model.d_spectral_norm=true for the other column):

python -m gan_jax.sweep --config experiments/ablation_digits.py --workdir runs/ablation/ns --seeds 0-2 loss=non_saturating
python -m gan_jax.sweep --config experiments/ablation_digits.py --workdir runs/ablation/hinge --seeds 0-2 loss=hinge
python -m gan_jax.sweep --config experiments/ablation_digits.py --workdir runs/ablation/wgan_gp --seeds 0-2 loss=wasserstein regularizers=gp=10
python -m gan_jax.sweep --config experiments/ablation_digits.py --workdir runs/ablation/ls --seeds 0-2 loss=least_squares

Results in experiments/README.md.
"""

from pathlib import Path

from gan_jax import config


def get_config() -> config.Config:
  cfg = config.load(Path(__file__).with_name("dcgan_digits.py"))
  cfg.model.d_norm = "none"
  cfg.steps = 5000
  cfg.sample_every = cfg.checkpoint_every = cfg.eval.every = 5000
  cfg.eval.metrics = "fid,digit_modes"
  cfg.eval.best = ""
  return cfg
