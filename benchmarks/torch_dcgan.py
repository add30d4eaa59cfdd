"""The PyTorch reference of the `dcgan32` and `dcgan64` workloads.

A plain PyTorch DCGAN written the usual way (the PyTorch DCGAN example):
transposed convolutions with a 4×4 kernel, stride 2, padding 1, the first
one from z as a 1×1 → 4×4 transposed convolution, BatchNorm, Adam(2e-4, 0.5,
0.999), non-saturating BCE. One step: the generator makes a fake batch;
the discriminator is updated on the real and the detached fake batch; the
generator is updated through the updated discriminator, on that same fake
batch (``reuse_fakes``, the PyTorch DCGAN example's step) or on a fake batch
of fresh noise (as gan_jax's step does by default, and StudioGAN's and
StyleGAN2-ADA's).
"""

import torch
from torch import nn


def generator(resolution: int, latent_dim: int, width: int) -> nn.Module:
  blocks = resolution.bit_length() - 3  # 32 → 3, 64 → 4 resolution blocks
  c = width * 2 ** (blocks - 1)
  layers = [
    nn.ConvTranspose2d(latent_dim, c, 4, 1, 0, bias=False),
    nn.BatchNorm2d(c),
    nn.ReLU(True),
  ]
  for _ in range(blocks - 1):
    layers += [
      nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False),
      nn.BatchNorm2d(c // 2),
      nn.ReLU(True),
    ]
    c //= 2
  layers += [nn.ConvTranspose2d(c, 3, 4, 2, 1), nn.Tanh()]
  return nn.Sequential(*layers)


def discriminator(resolution: int, width: int) -> nn.Module:
  blocks = resolution.bit_length() - 3
  c = width
  layers = [nn.Conv2d(3, c, 4, 2, 1), nn.LeakyReLU(0.2, True)]
  for _ in range(blocks - 1):
    layers += [
      nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False),
      nn.BatchNorm2d(2 * c),
      nn.LeakyReLU(0.2, True),
    ]
    c *= 2
  layers += [nn.Conv2d(c, 1, 4, 1, 0), nn.Flatten(0)]
  return nn.Sequential(*layers)


class Workload:
  """Models, optimizers and one train step; ``step(real)`` runs it."""

  def __init__(
    self,
    resolution,
    latent_dim,
    width,
    batch,
    device,
    compile_,
    precision="float32",
    reuse_fakes=True,
  ):
    self.g = generator(resolution, latent_dim, width).to(device)
    self.d = discriminator(resolution, width).to(device)
    self.g_opt = torch.optim.Adam(self.g.parameters(), 2e-4, betas=(0.5, 0.999))
    self.d_opt = torch.optim.Adam(self.d.parameters(), 2e-4, betas=(0.5, 0.999))
    self.bce = nn.BCEWithLogitsLoss()
    self.batch, self.latent_dim, self.device = batch, latent_dim, device
    self.ones = torch.ones(batch, device=device)
    self.zeros = torch.zeros(batch, device=device)
    self.compiled, self.reuse_fakes = compile_, reuse_fakes
    # Mixed precision as PyTorch does it: autocast around the forward
    # passes and losses; parameters, gradients and Adam stay float32.
    self.precision, self.autocast = precision, precision == "bfloat16"
    self.device_type = torch.device(device).type
    if compile_:  # The models, as torch.compile is usually applied.
      self.g = torch.compile(self.g, dynamic=False)
      self.d = torch.compile(self.d, dynamic=False)

  def _forward(self):
    return torch.autocast(
      self.device_type, dtype=torch.bfloat16, enabled=self.autocast
    )

  def _fakes(self, graph: bool):
    """G's output on a batch of fresh noise, with its autograd graph if
    ``graph``."""
    z = torch.randn(self.batch, self.latent_dim, 1, 1, device=self.device)
    with self._forward(), torch.set_grad_enabled(graph):
      return self.g(z)

  def step(self, real):
    # The D update's fakes keep their graph only for a G update on them.
    fake = self._fakes(graph=self.reuse_fakes)
    with self._forward():
      d_loss = self.bce(self.d(real), self.ones) + self.bce(
        self.d(fake.detach()), self.zeros
      )
    self.d_opt.zero_grad(set_to_none=True)
    d_loss.backward()
    self.d_opt.step()
    # The G update differentiates D's output with respect to its input
    # only: with D's weights requiring gradients, backward() would also
    # compute theirs (8% of the step) and throw them away. Toggling
    # requires_grad, not backward(inputs=...), so that a compiled D gets a
    # backward graph without them too.
    self.d.requires_grad_(False)
    if not self.reuse_fakes:
      fake = self._fakes(graph=True)
    with self._forward():
      g_loss = self.bce(self.d(fake), self.ones)
    self.g_opt.zero_grad(set_to_none=True)
    g_loss.backward()
    self.g_opt.step()
    self.d.requires_grad_(True)
    return d_loss.detach(), g_loss.detach()
