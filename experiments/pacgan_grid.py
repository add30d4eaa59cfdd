"""PacGAN's mode-collapse protocol on the 2-D grid: GAN, PacGAN2, and the
GAN with a gradient penalty.

experiments/pacgan_ring.py (PacGAN2, 10,000 steps, scored once at the
end) on the grid of experiments/mog_grid.py: 25 Gaussians, σ = 0.05. Ten
seeds per row:

python -m gan_jax.sweep --config experiments/pacgan_grid.py --workdir runs/pacgan_grid/gan --seeds 0-9 model.pack=1
python -m gan_jax.sweep --config experiments/pacgan_grid.py --workdir runs/pacgan_grid/pack2 --seeds 0-9
python -m gan_jax.sweep --config experiments/pacgan_grid.py --workdir runs/pacgan_grid/gp --seeds 0-9 model.pack=1 regularizers=gp=0.1

Results against the paper's in experiments/README.md.
"""

from pathlib import Path

from gan_jax import config


def get_config() -> config.Config:
  cfg = config.load(Path(__file__).with_name("pacgan_ring.py"))
  cfg.data.name = "mog_grid"  # as experiments/mog_grid.py changes mog_ring
  return cfg
