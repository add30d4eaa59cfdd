"""PacGAN's mode-collapse protocol on the 2-D ring, GAN against PacGAN2.

The ring experiment (experiments/mog_ring.py: 8 Gaussians, σ = 0.01, MLP
players, non-saturating loss, Adam 1e-4) with PacGAN packing (m = 2),
trained 10,000 steps and scored once at the end on 2,500 samples: modes
captured, % high-quality samples, reverse KL. Ten seeds per row:

python -m gan_jax.sweep --config experiments/pacgan_ring.py --workdir runs/pacgan_ring/gan --seeds 0-9 model.pack=1
python -m gan_jax.sweep --config experiments/pacgan_ring.py --workdir runs/pacgan_ring/pack2 --seeds 0-9

Results against the paper's in experiments/README.md.
"""

from pathlib import Path

from gan_jax import config


def get_config() -> config.Config:
  cfg = config.load(Path(__file__).with_name("mog_ring.py"))
  cfg.model.pack = 2
  cfg.steps = 10_000
  cfg.steps_per_call = 50  # 50 steps per host call: the MLPs are small.
  cfg.log_every = 1000
  cfg.sample_every = cfg.checkpoint_every = cfg.eval.every = 10_000
  return cfg
