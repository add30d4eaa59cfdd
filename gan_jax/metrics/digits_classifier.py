"""A small classifier of the 8×8 scikit-learn digits, for Inception-free metrics.

An MLP (64 → 256 → 128 → 10) trained full-batch with AdamW for a fixed
number of steps from a fixed seed on a fixed split: the first 1,500 digits of
a seeded permutation train it, the other 297 are held out. Training takes a
few seconds on a CPU and is deterministic; the parameters are cached in
:func:`gan_jax.cache.cache_dir` under a name that carries :data:`VERSION`, so
a change of recipe retrains.

The 128 units of the penultimate layer are the ``features`` of a digit.
"""

from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import traverse_util

from gan_jax import cache
from gan_jax.data import digits

# Bump on any change to the recipe below: it names the cache file.
VERSION = "mlp256x128-adamw1e-3-wd1e-4-steps300-seed0"
SEED = 0
TRAIN_SIZE = 1500
STEPS = 300
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 1e-4
NUM_FEATURES = 128


class Net(nn.Module):
  """Returns (features, logits) of images (N, 8, 8, 1) in [-1, 1]."""

  @nn.compact
  def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
    x = images.reshape(images.shape[0], -1)
    x = nn.relu(nn.Dense(256)(x))
    features = nn.relu(nn.Dense(NUM_FEATURES)(x))
    return features, nn.Dense(10)(features)


_NET = Net()


@jax.jit
def _features(params, images: jax.Array) -> jax.Array:
  return _NET.apply({"params": params}, images)[0]


@jax.jit
def _logits(params, images: jax.Array) -> jax.Array:
  return _NET.apply({"params": params}, images)[1]


@jax.jit
def _predict(params, images: jax.Array) -> jax.Array:
  return jnp.argmax(_logits(params, images), axis=-1)


class DigitsClassifier:
  """Trained parameters with the pure functions of images that use them.

  Every function takes images (N, 8, 8, 1) in [-1, 1]: ``features`` gives
  (N, 128), ``logits`` (N, 10) and ``predict`` the (N,) int labels.
  """

  def __init__(self, params):
    self.params = params

  def features(self, images) -> jax.Array:
    return _features(self.params, images)

  def logits(self, images) -> jax.Array:
    return _logits(self.params, images)

  def predict(self, images) -> jax.Array:
    return _predict(self.params, images)


def split() -> tuple[np.ndarray, np.ndarray]:
  """Indices into ``digits.load()`` of the (1,500 training, 297 held-out)."""
  order = np.random.default_rng(SEED).permutation(1797)
  return order[:TRAIN_SIZE], order[TRAIN_SIZE:]


def train():
  """Trains the classifier from scratch; returns its parameters."""
  images, labels = digits.load()
  train_ids, _ = split()
  x, y = jnp.asarray(images[train_ids]), jnp.asarray(labels[train_ids])
  params = _NET.init(jax.random.key(SEED), x[:1])["params"]
  optimizer = optax.adamw(LEARNING_RATE, weight_decay=WEIGHT_DECAY)

  def loss(params):
    logits = _NET.apply({"params": params}, x)[1]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

  def step(carry, _):
    params, opt_state = carry
    grads = jax.grad(loss)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), None

  @jax.jit
  def run(params):
    carry = (params, optimizer.init(params))
    (params, _), _ = jax.lax.scan(step, carry, None, length=STEPS)
    return params

  return jax.device_get(run(params))


def held_out_accuracy(classifier: DigitsClassifier) -> float:
  """Accuracy on the 297 digits the classifier was not trained on."""
  images, labels = digits.load()
  _, held_out = split()
  predicted = np.asarray(classifier.predict(images[held_out]))
  return float(np.mean(predicted == labels[held_out]))


def cache_path() -> Path:
  return cache.cache_dir() / f"digits_classifier-{VERSION}.npz"


def _load(path: Path):
  flat = cache.load_npz(path, "it is trained again on first use (seconds)")
  return traverse_util.unflatten_dict(flat, sep="/")


def load_classifier() -> DigitsClassifier:
  """The cached classifier; trains and caches it on first use."""
  path = cache_path()
  if path.exists():
    return DigitsClassifier(_load(path))
  params = train()
  flat = traverse_util.flatten_dict(params, sep="/")
  cache.save_npz(path, {k: np.asarray(v) for k, v in flat.items()})
  return DigitsClassifier(params)
