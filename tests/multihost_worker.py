"""One process of a multi-process test run: the train command's own
``main``, which also saves the process's final state to ``--save-state``,
and scores with XLA's convolutions in the FID Inception (a 1 s compile,
against 7 s for Winograd's on JAX 0.10's CPU; test_inception covers those).

    python -m tests.multihost_worker OUT.npz --config ... --coordinator ...
"""

import sys

import jax
import numpy as np


def main() -> int:
  out, argv = sys.argv[1], sys.argv[2:]
  from gan_jax import run, train  # pylint: disable=g-import-not-at-top
  from gan_jax.metrics import inception_features  # pylint: disable=g-import-not-at-top

  inception_features.resolve_conv_impl = lambda _: "xla"

  original = run.train

  def train_and_save(*args, **kwargs):
    result = original(*args, **kwargs)
    leaves = jax.tree.leaves(result.state)
    plain = [
      np.asarray(jax.random.key_data(x))
      if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
      else np.asarray(x)
      for x in leaves
    ]
    np.savez(out, *plain)
    return result

  run.train = train_and_save
  return train.main(argv)


if __name__ == "__main__":
  sys.exit(main())
