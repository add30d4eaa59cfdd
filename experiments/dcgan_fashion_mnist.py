"""DCGAN on the real Fashion-MNIST, 60,000 28×28 images resized to 32×32.

Offline: `apt-get install dataset-fashion-mnist`; the first run prepares it
from Debian's files (content checked against upstream) as a TFDS dataset.

python -m gan_jax.train --config experiments/dcgan_fashion_mnist.py --workdir runs/dcgan_fashion_mnist
"""

from gan_jax.config import Config


def get_config() -> Config:
  cfg = Config()
  cfg.data.name = "fashion_mnist"
  cfg.data.image_size = 32  # DCGAN works on powers of two.
  cfg.data.resize = "bilinear"
  cfg.model.arch = "dcgan"
  cfg.model.latent_dim = 100
  # G: 4×4×64, 8×8×32, 16×16×16, 32×32×1. Width 16 because XLA:CPU runs
  # these convolutions slowly (113 img/s; width 64: 8 img/s), see README.
  cfg.model.width = 16
  cfg.steps = 2000
  cfg.batch_size = 64
  cfg.log_every = 50
  cfg.sample_every = 500
  cfg.checkpoint_every = 500
  return cfg
