"""The GAN train step: one pure function ``(state, batch, key) -> (state, metrics)``.

Each step makes ``n_critic`` discriminator updates, each on a fresh real
batch and fresh noise, then one generator update against the updated
discriminator. ``batch["x"]`` has shape ``(n_critic, batch_size, ...)``.
The step key is split with ``fold_in``: discriminator update ``i`` draws its
noise from ``fold_in(key, i)``, the generator update from
``fold_in(key, n_critic)`` (with ``reuse_fakes``, it reuses the last
discriminator update's); augmentations and regularizers of update ``i``
draw from ``fold_in(key, n_critic + 1 + i)``, those of the generator update
from ``fold_in(key, 2 * n_critic + 1)``. (Under ``pmap`` those two keys are
folded with the device index, so that devices augment their rows
independently; ``single`` and ``mesh`` see the whole batch and agree.)

The techniques compose here, each a pure function from the config:

- ``augment``: DiffAugment on what D sees, real and fake alike, in both
  players' updates, each transformation with probability
  ``state.augment_p``;
- ``ada_target``: ADA, which moves ``augment_p`` by ``ada_step`` per step
  to keep E[sign(D(real))] at the target;
- ``regularizers``: penalties added to D's loss, every ``reg_every`` steps
  with their weight times ``reg_every`` (lazy regularization);
- ``d_weight_clip``: the original WGAN's constraint;
- ``g_ema_decay``: a moving average of G's parameters;
- class conditioning: with labels in the batch (``batch["y"]``, shape
  ``(n_critic, batch_size)``), G generates from ``(z, y)`` and D judges
  ``(x, y)``. Discriminator update ``i`` generates its fakes for the labels
  of its real batch ``y[i]``, and the generator update for those of the
  last one, so fake labels follow the data's class frequencies. With an
  auxiliary classifier (ACGAN: D returns ``(logits, class_logits)``), its
  cross-entropy times ``acgan_weight`` is added to D's loss on real and
  fake and to G's on fake.

Model state (BatchNorm running averages) is updated only by the player's own
update: the discriminator's by its forward passes on the real and then the
fake batch, the generator's by its forward pass in the generator update.
"""

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from gan_jax import latent
from gan_jax import regularizers as regs
from gan_jax.augment import Augmentation, ada_update
from gan_jax.losses import GanLoss
from gan_jax.models.conditioning import inputs, outputs
from gan_jax.models.model import Model
from gan_jax.parallel import LOCAL, BatchAxis
from gan_jax.state import GANState

Metrics = dict[str, jax.Array]


def init_reg_state(regularizers: Mapping[str, float]) -> dict:
  """The initial ``GANState.reg_state`` for these regularizers."""
  return {name: regs.REGULARIZERS[name].init() for name in regularizers}


def make_train_step(
  generator: Model,
  discriminator: Model,
  loss: GanLoss,
  g_optimizer: optax.GradientTransformation,
  d_optimizer: optax.GradientTransformation,
  *,
  latent_dim: int,
  latent_dist: str = "normal",
  n_critic: int = 1,
  batch_axis: BatchAxis = LOCAL,
  augment: Augmentation | None = None,
  regularizers: Mapping[str, float] | None = None,
  reg_every: int = 1,
  d_weight_clip: float = 0.0,
  g_ema_decay: float = 0.0,
  ada_target: float = 0.0,
  ada_step: float = 0.0,
  acgan_weight: float = 1.0,
  reuse_fakes: bool = False,
) -> Callable[[GANState, Any, jax.Array], tuple[GANState, Metrics]]:
  """Returns the (not yet compiled) train step of a GAN.

  ``regularizers`` maps names of :data:`gan_jax.regularizers.REGULARIZERS`
  to weights; the state's ``reg_state`` must come from
  :func:`init_reg_state` of the same mapping.

  Metrics, of the last discriminator update: ``d_loss`` (with penalties),
  ``d_real`` and ``d_fake`` (mean outputs), ``d_acc_real`` and
  ``d_acc_fake`` (the fraction of real outputs above 0 and of fake outputs
  below 0), ``ada_rt`` (E[sign(D(real))]; with ADA, over all the step's
  discriminator updates), ``d_grad_norm``, and ``reg_<name>`` for each
  penalty (unweighted; with lazy regularization, times ``reg_every`` on the
  steps it runs and 0 on the others); of the generator update: ``g_loss``
  and ``g_grad_norm``; with augmentation, ``augment_p`` after the step;
  with an auxiliary classifier, ``d_class_loss`` (real + fake),
  ``d_class_acc_real``, ``d_class_acc_fake`` and ``g_class_loss``.

  With ``reuse_fakes``, the generator update is taken on the fakes of the
  last discriminator update (its noise and labels), back through the
  generator's forward pass made there, instead of a new forward pass on new
  noise: one generator forward pass fewer per step, as in PyTorch's DCGAN
  example. G's BatchNorm statistics then come from that pass.
  """
  sample = functools.partial(_sample_noise, latent_dist, latent_dim)
  regularizers = dict(regularizers or {})

  def train_step(state: GANState, batch, key: jax.Array):
    real = batch["x"]
    labels = batch.get("y")  # (n_critic, rows) class labels, or None.
    rows = real.shape[1]

    def see(key, x):
      return augment(key, x, state.augment_p) if augment else x

    def d_update(carry, real_i, y, i, keep_g=False):
      params, model_state, opt_state, reg_state = carry
      z = batch_axis.draw(sample, jax.random.fold_in(key, i), rows)

      def generate(g_params):
        return generator.apply(g_params, state.g_state, inputs(z, y), True)

      if keep_g:  # The generator update goes back through this pass.
        fake, g_pullback, g_state = jax.vjp(
          generate, state.g_params, has_aux=True
        )
        kept = (fake, g_pullback, g_state)
      else:
        fake, kept = generate(state.g_params)[0], None
      fake = jax.lax.stop_gradient(fake)
      extra = batch_axis.shard_key(jax.random.fold_in(key, n_critic + 1 + i))
      real_seen = see(jax.random.fold_in(extra, 0), real_i)
      fake_seen = see(jax.random.fold_in(extra, 1), fake)

      def d_loss(p):
        out_real, s = discriminator.apply(
          p, model_state, inputs(real_seen, y), True
        )
        out_fake, s = discriminator.apply(p, s, inputs(fake_seen, y), True)
        (d_real, c_real), (d_fake, c_fake) = (
          outputs(out_real),
          outputs(out_fake),
        )
        value = loss.discriminator(d_real, d_fake)
        classes = {}
        if c_real is not None:  # ACGAN: classify real and fake.
          classes = {
            "d_class_loss": _cross_entropy(c_real, y)
            + _cross_entropy(c_fake, y),
            "d_class_acc_real": _accuracy(c_real, y),
            "d_class_acc_fake": _accuracy(c_fake, y),
          }
          value = value + acgan_weight * classes["d_class_loss"]
        reg_inputs = regs.Inputs(
          d=lambda x: outputs(
            discriminator.apply(p, model_state, inputs(x, y), True)[0]
          )[0],
          real=real_seen,
          fake=fake_seen,
          key=jax.random.fold_in(extra, 2),
          d_real=d_real,
          d_fake=d_fake,
        )
        penalties, new_reg_state = _penalties(
          regularizers, reg_inputs, reg_state, state.step, reg_every
        )
        for name, weight in regularizers.items():
          value = value + weight * penalties[name]
        return value, (s, d_real, d_fake, penalties, new_reg_state, classes)

      (value, aux), grads = jax.value_and_grad(d_loss, has_aux=True)(params)
      model_state, d_real, d_fake, penalties, reg_state, classes = aux
      grads = batch_axis.mean(grads)
      # Regularizer state is a running mean of batch statistics (LeCam), so
      # the shards' means are the global batch's: the state stays replicated.
      reg_state = batch_axis.mean(reg_state)
      updates, opt_state = d_optimizer.update(grads, opt_state, params)
      params = optax.apply_updates(params, updates)
      if d_weight_clip:
        params = regs.clip_weights(params, d_weight_clip)
      metrics = {
        "ada_rt": jnp.mean(jnp.sign(d_real)),
        "d_loss": value,
        "d_real": jnp.mean(d_real),
        "d_fake": jnp.mean(d_fake),
        "d_acc_real": jnp.mean((d_real > 0).astype(jnp.float32)),
        "d_acc_fake": jnp.mean((d_fake < 0).astype(jnp.float32)),
        **{f"reg_{name}": v for name, v in penalties.items()},
        **classes,
      }
      metrics = batch_axis.mean(metrics)
      # The barrier keeps the norm out of the update's fusions, so that the
      # metric does not change the run (without it XLA reorders float sums).
      metrics["d_grad_norm"] = optax.tree.norm(
        jax.lax.optimization_barrier(grads)
      )
      return (params, model_state, opt_state, reg_state), metrics, kept

    # A Python loop, not lax.scan: XLA:CPU runs a convolution's kernel
    # gradient inside a while loop over 100 times slower (benchmarks/README).
    carry = (state.d_params, state.d_state, state.d_opt_state, state.reg_state)
    signs = []
    for i in range(n_critic):
      y = None if labels is None else labels[i]
      last = reuse_fakes and i == n_critic - 1
      carry, metrics, kept = d_update(carry, real[i], y, i, keep_g=last)
      signs.append(metrics["ada_rt"])
    d_params, d_state, d_opt_state, reg_state = carry
    augment_p = state.augment_p
    if ada_target:  # r_t over this step's real batches, the global batch.
      metrics["ada_rt"] = jnp.mean(jnp.stack(signs))
      augment_p = ada_update(augment_p, metrics["ada_rt"], ada_target, ada_step)

    g_extra = batch_axis.shard_key(jax.random.fold_in(key, 2 * n_critic + 1))
    y = None if labels is None else labels[n_critic - 1]

    def judged(fake):  # G's loss on these fakes, by the updated D.
      fake = see(g_extra, fake)
      out, _ = discriminator.apply(d_params, d_state, inputs(fake, y), True)
      d_fake, c_fake = outputs(out)
      value, classes = loss.generator(d_fake), {}
      if c_fake is not None:  # ACGAN: be classified as the label asked for.
        classes = {"g_class_loss": _cross_entropy(c_fake, y)}
        value = value + acgan_weight * classes["g_class_loss"]
      return value, classes

    if reuse_fakes:
      fake, g_pullback, g_state = kept
      (g_value, g_classes), grad_fake = jax.value_and_grad(
        judged, has_aux=True
      )(fake)
      (grads,) = g_pullback(grad_fake)
    else:
      z = batch_axis.draw(sample, jax.random.fold_in(key, n_critic), rows)

      def g_loss(p):
        fake, g_state = generator.apply(p, state.g_state, inputs(z, y), True)
        value, classes = judged(fake)
        return value, (g_state, classes)

      (g_value, (g_state, g_classes)), grads = jax.value_and_grad(
        g_loss, has_aux=True
      )(state.g_params)
    grads = batch_axis.mean(grads)
    updates, g_opt_state = g_optimizer.update(
      grads, state.g_opt_state, state.g_params
    )
    g_params = optax.apply_updates(state.g_params, updates)
    g_ema_params = state.g_ema_params
    if g_ema_decay:
      g_ema_params = optax.incremental_update(
        g_params, g_ema_params, 1.0 - g_ema_decay
      )

    new_state = state.replace(
      step=state.step + 1,
      g_params=g_params,
      g_state=g_state,
      g_opt_state=g_opt_state,
      d_params=d_params,
      d_state=d_state,
      d_opt_state=d_opt_state,
      reg_state=reg_state,
      g_ema_params=g_ema_params,
      augment_p=augment_p,
    )
    if augment:
      metrics["augment_p"] = augment_p
    metrics["g_loss"] = batch_axis.mean(g_value)
    metrics.update(batch_axis.mean(g_classes))
    metrics["g_grad_norm"] = optax.tree.norm(
      jax.lax.optimization_barrier(grads)
    )
    return new_state, metrics

  return train_step


def _penalties(regularizers, inputs, reg_state, step, every):
  """Each regularizer's penalty and new state; with ``every > 1``, computed
  on steps divisible by ``every`` (times ``every``) and 0 otherwise."""
  penalties, new_state = {}, dict(reg_state)
  for name in regularizers:
    reg = regs.REGULARIZERS[name]
    key = jax.random.fold_in(inputs.key, len(penalties))
    call = functools.partial(reg.apply, inputs._replace(key=key))
    if every == 1:
      penalties[name], new_state[name] = call(reg_state[name])
    else:
      penalties[name], new_state[name] = jax.lax.cond(
        step % every == 0,
        lambda c=call, s=reg_state[name]: _scaled(c(s), every),
        lambda s=reg_state[name]: (jnp.zeros((), jnp.float32), s),
      )
  return penalties, new_state


def _cross_entropy(class_logits, labels):
  return optax.softmax_cross_entropy_with_integer_labels(
    class_logits.astype(jnp.float32), labels
  ).mean()


def _accuracy(class_logits, labels):
  return jnp.mean((jnp.argmax(class_logits, -1) == labels).astype(jnp.float32))


def _scaled(result, factor):
  penalty, state = result
  return factor * penalty.astype(jnp.float32), state


def _sample_noise(dist: str, dim: int, key: jax.Array, n: int) -> jax.Array:
  return latent.sample(dist, key, n, dim)
