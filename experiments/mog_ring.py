"""2-D ring of 8 Gaussians (σ = 0.01) with MLP players, the mode-collapse test.

python -m gan_jax.train --config experiments/mog_ring.py --workdir runs/mog_ring
"""

from gan_jax.config import Config


def get_config() -> Config:
  cfg = Config()
  cfg.data.name = "mog_ring"
  cfg.model.arch = "mlp"
  cfg.model.latent_dim = 2
  cfg.model.hidden = 400
  cfg.model.depth = 4
  cfg.model.g_norm = "batch"
  cfg.model.d_norm = "none"
  cfg.g_optimizer.lr = cfg.d_optimizer.lr = 1e-4
  cfg.steps = 6000
  cfg.batch_size = 100
  cfg.log_every = 200
  cfg.sample_every = 1000
  cfg.checkpoint_every = 2000
  # PacGAN's protocol: 2,500 samples, modes reached, % high quality, KL.
  cfg.eval.every = 2000
  cfg.eval.features = "none"
  cfg.eval.metrics = "mixture_modes"
  cfg.eval.num_samples = 2500
  cfg.eval.batch_size = 2500
  return cfg
