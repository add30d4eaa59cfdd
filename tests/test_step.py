"""The train step: compiled once, pure, and independent of Flax."""

from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gan_jax import config, data, keys, latent, losses, models, optimizers
from gan_jax import state as state_lib
from gan_jax.models import Model
from gan_jax.step import make_train_step
from tests.helpers import train_steps, trees_differ

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def _leaves_equal(a, b) -> bool:
  return not trees_differ(a, b)


def _digits_models(cfg, g_opt=None, d_opt=None):
  """(source, G, D, G's optimizer, D's optimizer, initial state)."""
  source = data.build("digits", 0)
  g, d = models.build(cfg.model, source.example_shape)
  g_opt = g_opt or optimizers.build(cfg.g_optimizer)
  d_opt = d_opt or optimizers.build(cfg.d_optimizer)
  state = state_lib.init(
    jax.random.key(0),
    jax.random.key(1),
    g,
    d,
    g_opt,
    d_opt,
    latent_dim=cfg.model.latent_dim,
    example=source.reference(2),
  )
  return source, g, d, g_opt, d_opt, state


def _step_fn(cfg, g, d, g_opt, d_opt, **options):
  """The non-saturating train step of these models (not compiled)."""
  return make_train_step(
    g,
    d,
    losses.NON_SATURATING,
    g_opt,
    d_opt,
    latent_dim=cfg.model.latent_dim,
    **options,
  )


def _digits_step(cfg, g_opt=None, d_opt=None, n_critic=1):
  source, g, d, g_opt, d_opt, state = _digits_models(cfg, g_opt, d_opt)
  step = _step_fn(cfg, g, d, g_opt, d_opt, n_critic=n_critic)
  batches = source.batches(cfg.batch_size, data.Shard())
  real = np.stack([batches[i] for i in range(n_critic)])
  return step, state, {"x": real}


@pytest.mark.parametrize("strategy", ["single", "mesh", "pmap"])
def test_step_compiles_once_under_every_strategy(tiny_digits, strategy):
  chex.clear_trace_counter()  # Counts are global, keyed by the function.
  tiny_digits.parallel = strategy
  tiny_digits.model.latent_dist = "uniform"
  state, metrics = train_steps(
    tiny_digits, 4, wrap=lambda step: chex.assert_max_traces(step, n=1)
  )
  assert int(state.step) == 4
  assert all(np.isfinite(float(v)) for v in metrics.values())
  assert set(metrics) == {
    "ada_rt",
    "d_loss",
    "d_real",
    "d_fake",
    "d_acc_real",
    "d_acc_fake",
    "d_grad_norm",
    "g_loss",
    "g_grad_norm",
  }


def test_init_traces_both_models_into_one_program(tiny_digits):
  """Run eagerly, every initializer would compile on its own (seconds on
  CPU); ``state.init`` compiles the whole state at once, so a model's
  ``init`` sees tracers, and the same arguments give the same state."""
  seen = []

  def traced(model):
    def init(key, x):
      seen.append(isinstance(key, jax.core.Tracer))
      return model.init(key, x)

    return Model(init, model.apply)

  g, d = map(traced, models.build(tiny_digits.model, (8, 8, 1)))
  opt = optax.adam(1e-3)
  args = (jax.random.key(0), jax.random.key(1), g, d, opt, opt)
  example = np.zeros((2, 8, 8, 1), np.float32)
  first = state_lib.init(*args, latent_dim=16, example=example)
  assert seen == [True, True]
  assert _leaves_equal(
    first, state_lib.init(*args, latent_dim=16, example=example)
  )


def test_step_is_a_pure_function_of_its_inputs(tiny_digits):
  step, state, batch = _digits_step(tiny_digits)
  step = jax.jit(step)
  key = jax.random.key(3)
  a, ma = step(state, batch, key)
  b, mb = step(state, batch, key)
  c, _ = step(state, batch, jax.random.key(4))
  assert _leaves_equal(a, b) and _leaves_equal(ma, mb)
  assert not _leaves_equal(a.g_params, c.g_params)


def test_n_critic_discriminator_updates_per_generator_update(tiny_digits):
  step, state, batch = _digits_step(tiny_digits, n_critic=3)
  state, _ = jax.jit(step)(state, batch, jax.random.key(0))
  assert int(state.d_opt_state[0].count) == 3
  assert int(state.g_opt_state[0].count) == 1


def _recording(out_shape):
  """A model whose state sums every input it sees in training mode."""

  def init(key, x):
    del key, x
    return {"w": jnp.zeros(())}, {"seen": jnp.zeros(())}

  def apply(params, state, x, train):
    y = jnp.zeros((x.shape[0], *out_shape)) + params["w"] * x.mean()
    if train:
      state = {"seen": state["seen"] + jnp.sum(x)}
    return y, state

  return Model(init, apply)


def test_each_critic_update_sees_its_own_real_batch():
  """D's state sums what it saw: the three real batches (its fakes are 0)."""
  g, d = _recording((2,)), _recording(())
  opt = optax.sgd(0.1)
  real = jax.random.normal(jax.random.key(0), (3, 8, 2))
  state = state_lib.init(
    jax.random.key(1),
    jax.random.key(2),
    g,
    d,
    opt,
    opt,
    latent_dim=2,
    example=real[0],
  )
  step = make_train_step(
    g, d, losses.NON_SATURATING, opt, opt, latent_dim=2, n_critic=3
  )
  state, _ = jax.jit(step)(state, {"x": real}, jax.random.key(3))
  np.testing.assert_allclose(state.d_state["seen"], jnp.sum(real), rtol=1e-5)
  assert float(jnp.abs(jnp.sum(real[0]) - jnp.sum(real))) > 1.0
  # G's own update draws its noise from fold_in(key, n_critic).
  z = jax.random.normal(jax.random.fold_in(jax.random.key(3), 3), (8, 2))
  np.testing.assert_allclose(state.g_state["seen"], jnp.sum(z), rtol=1e-5)


def test_each_player_has_its_own_optimizer(tiny_digits):
  """TTUR-style: the generator's optimizer alone decides its update."""
  frozen = optax.sgd(0.0)
  step, state, batch = _digits_step(tiny_digits, g_opt=frozen)
  new, _ = jax.jit(step)(state, batch, jax.random.key(0))
  assert _leaves_equal(new.g_params, state.g_params)
  assert not _leaves_equal(new.d_params, state.d_params)


def test_plain_jax_models_plug_in_and_learn():
  """The README's plain-JAX model trains: G moves its samples onto the ring."""
  mlp = config.import_experiment(EXPERIMENTS / "custom_ring.py").mlp
  g = mlp([4, 64, 64, 2], (2,))
  d = mlp([2, 64, 64, 1], ())
  opt = optax.adam(1e-3, b1=0.5)
  source = data.build("mog_ring", 0)
  state = state_lib.init(
    jax.random.key(0),
    jax.random.key(1),
    g,
    d,
    opt,
    opt,
    latent_dim=4,
    example=source.batch(0, 2),
  )
  step = jax.jit(
    make_train_step(g, d, losses.NON_SATURATING, opt, opt, latent_dim=4),
    donate_argnums=0,
  )

  def radii(state):
    z = jax.random.normal(jax.random.key(9), (512, 4))
    return np.linalg.norm(g.apply(state.g_params, {}, z, False)[0], axis=1)

  before = np.mean(np.abs(radii(state) - 1.0))
  for i in range(1500):
    state, metrics = step(
      state,
      {"x": source.batch(i, 128)[None]},
      jax.random.fold_in(jax.random.key(2), i),
    )
  after = np.mean(np.abs(radii(state) - 1.0))
  assert np.isfinite(float(metrics["g_loss"]))
  assert after < 0.2 < before, (before, after)


def test_same_seed_same_run_other_seed_other_run(tiny_digits):
  a, _ = train_steps(tiny_digits, 2)
  b, _ = train_steps(tiny_digits, 2)
  tiny_digits.seed = 1
  c, _ = train_steps(tiny_digits, 2)
  assert _leaves_equal(a, b)
  assert not _leaves_equal(a.g_params, c.g_params)


def test_step_keys_come_from_fold_in():
  root = keys.stream(keys.root(5), keys.TRAIN)
  np.testing.assert_array_equal(
    jax.random.key_data(keys.step_key(root, 12)),
    jax.random.key_data(jax.random.fold_in(root, 12)),
  )
  assert jnp.issubdtype(root.dtype, jax.dtypes.prng_key)


def test_reusing_fakes_updates_g_on_the_d_updates_noise(tiny_digits):
  """With reuse_fakes, G's update is the gradient of G's loss at the last
  discriminator update's noise, judged by the updated D; D's update is the
  same as without it."""
  cfg = tiny_digits
  source, g, d, g_opt, d_opt, state = _digits_models(cfg)
  batches = source.batches(cfg.batch_size, data.Shard())
  batch = {"x": np.stack([batches[0]])}
  key = jax.random.key(7)

  def step(reuse):
    fn = _step_fn(cfg, g, d, g_opt, d_opt, reuse_fakes=reuse)
    return jax.jit(fn)(state, batch, key)

  reused, metrics = step(True)
  fresh, _ = step(False)
  assert _leaves_equal(reused.d_params, fresh.d_params)
  assert trees_differ(reused.g_params, fresh.g_params)

  # By hand: the D update's noise, its G pass, the updated D.
  z = latent.sample(
    cfg.model.latent_dist,
    jax.random.fold_in(key, 0),
    cfg.batch_size,
    cfg.model.latent_dim,
  )

  def g_loss(p):
    fake, g_state = g.apply(p, state.g_state, z, True)
    out, _ = d.apply(reused.d_params, reused.d_state, fake, True)
    return losses.NON_SATURATING.generator(out), g_state

  @jax.jit  # One program, not one compilation per operation.
  def by_hand(params, opt_state):
    (value, g_state), grads = jax.value_and_grad(g_loss, has_aux=True)(params)
    updates, _ = g_opt.update(grads, opt_state, params)
    return value, g_state, optax.apply_updates(params, updates)

  value, g_state, want = by_hand(state.g_params, state.g_opt_state)
  np.testing.assert_allclose(metrics["g_loss"], value, rtol=1e-5)
  chex.assert_trees_all_close(reused.g_params, want, rtol=1e-4, atol=1e-6)
  chex.assert_trees_all_close(reused.g_state, g_state, rtol=1e-5)
