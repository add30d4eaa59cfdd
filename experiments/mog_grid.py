"""2-D grid of 25 Gaussians (σ = 0.05): the ring experiment on the grid.

python -m gan_jax.train --config experiments/mog_grid.py --workdir runs/mog_grid
"""

from pathlib import Path

from gan_jax import config


def get_config() -> config.Config:
  cfg = config.load(Path(__file__).with_name("mog_ring.py"))
  cfg.data.name = "mog_grid"
  return cfg
