"""The experiment loop: a run is a function of (config, seed).

:func:`train` checks everything that can be wrong with the input before it
writes anything, then trains, logs, draws samples and checkpoints, and
resumes from the latest checkpoint in the workdir when there is one.
"""

import dataclasses
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from gan_jax import (
  augment,
  cpu_memory,
  data,
  keys,
  losses,
  models,
  optimizers,
  parallel,
)
from gan_jax import config as config_lib
from gan_jax import regularizers as regs
from gan_jax import state as state_lib
from gan_jax.checkpoint import Checkpointer
from gan_jax.errors import (
  ConfigError,
  DataError,
  TrainingDiverged,
  UserError,
  nearest_existing,
)
from gan_jax.evaluations import Evaluations
from gan_jax.metrics.evaluator import Evaluator
from gan_jax.multi_step import steps_per_call
from gan_jax.run_log import RunLog
from gan_jax.samples import SampleWriter
from gan_jax.step import init_reg_state, make_train_step
from gan_jax.stop_signals import StopOnSignal


@dataclasses.dataclass
class RunResult:
  state: state_lib.GANState  # One copy of the final state, whatever strategy.
  step: int
  workdir: Path
  stopped_by: int | None = None  # The signal that stopped the run early.
  # Real images shown to D per second, after compilation, evaluations excluded.
  images_per_second: float | None = None


def _check_resumable(workdir: Path, cfg: config_lib.Config) -> None:
  saved_path = workdir / "config.json"
  if not saved_path.exists():
    return
  try:
    saved = config_lib.flatten(json.loads(saved_path.read_text()))
  except (ValueError, AttributeError):
    raise ConfigError(
      f"{saved_path} is not valid JSON; restore it or choose a new --workdir"
    ) from None
  now = config_lib.flatten(config_lib.to_dict(cfg))
  defaults = config_lib.flatten(config_lib.to_dict(config_lib.Config()))
  for key in sorted(set(saved) | set(now)):
    if key in config_lib.RESUMABLE_CHANGES:
      continue
    if key not in saved and now.get(key) == defaults.get(key):
      continue  # A setting added since the run began, left at its default.
    if saved.get(key) != now.get(key):
      made = (
        f"made with {key}={saved[key]!r}"
        if key in saved
        else f"made before {key} existed (as {key}={defaults.get(key)!r})"
      )
      raise ConfigError(
        f"{workdir} holds a run {made}, but "
        f"this config has {key}={now.get(key)!r}; continue it with the "
        "same config or choose a new --workdir"
      )


def _write_text_atomically(path: Path, text: str) -> None:
  tmp = path.with_suffix(path.suffix + ".tmp")
  tmp.write_text(text, encoding="utf-8")
  tmp.replace(path)


def _say(message: str) -> None:
  tqdm.write(message, file=sys.stderr)


@dataclasses.dataclass
class Assembly:
  """Everything a run is built from, before anything touches the workdir."""

  source: data.Source
  strategy: Any
  generator: models.Model
  train_step: Callable  # Pure; ``strategy.compile`` compiles it.
  state: state_lib.GANState  # Initial, one copy.
  root: jax.Array  # The run's root key.
  num_classes: int = 0  # > 0: G and D are conditional on labels.


def _build_source(cfg: config_lib.Config) -> data.Source:
  """The data source; with several processes, process 0 prepares it first."""
  if jax.process_count() == 1:
    return data.build(cfg.data, cfg.seed)
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top

  source, error = None, None
  if jax.process_index() == 0:
    try:
      source = data.build(cfg.data, cfg.seed)
    except UserError as e:  # Raised after the barrier, which all must reach.
      error = e
  multihost_utils.sync_global_devices("gan_jax: data ready")
  if error is not None:
    raise error
  return source or data.build(cfg.data, cfg.seed)


def assemble(cfg: config_lib.Config) -> Assembly:
  """Validates ``cfg`` and builds data, strategy, models, step and state.

  Raises ConfigError or DataError for anything wrong with the input;
  writes nothing outside the data dir.
  """
  cfg = config_lib.validate(cfg)
  source = _build_source(cfg)
  if hasattr(source, "__len__") and cfg.batch_size > len(source):
    raise ConfigError(
      f"batch_size={cfg.batch_size} exceeds the "
      f"{len(source)} examples of data.name="
      f"{cfg.data.name!r}; use a smaller batch_size"
    )
  regularizers = regs.parse(cfg.regularizers)
  image_only = [  # (setting, how to drop it)
    (f"regularizer {name!r}", "remove it from regularizers")
    for name in sorted(regs.IMAGE_ONLY & set(regularizers))
  ]
  if cfg.augment:
    image_only.insert(0, (f"augment={cfg.augment!r}", "set augment=''"))
  if image_only and len(source.example_shape) != 3:
    what, fix = image_only[0]
    raise ConfigError(
      f"{what} needs images (height, width, channels), but data.name="
      f"{cfg.data.name!r} has examples of shape "
      f"{tuple(source.example_shape)}; {fix}"
    )
  num_classes = _num_classes(cfg, source)
  strategy = parallel.make(cfg.parallel, cfg.num_devices, cfg.batch_size)
  _check_discriminator_batch(cfg, strategy)
  generator, discriminator = models.build(
    cfg.model, source.example_shape, strategy.axis_name, num_classes
  )
  g_opt = optimizers.build(cfg.g_optimizer)
  d_opt = optimizers.build(cfg.d_optimizer)
  root = keys.root(cfg.seed)
  state = state_lib.init(
    keys.stream(root, keys.INIT),
    keys.stream(root, keys.TRAIN),
    generator,
    discriminator,
    g_opt,
    d_opt,
    latent_dim=cfg.model.latent_dim,
    example=np.asarray(source.reference(2), np.float32),
    reg_state=init_reg_state(regularizers),
    g_ema=cfg.g_ema_decay > 0,
    augment_p=cfg.augment_p,
    conditional=num_classes > 0,
  )
  train_step = make_train_step(
    generator,
    discriminator,
    losses.LOSSES[cfg.loss],
    g_opt,
    d_opt,
    latent_dim=cfg.model.latent_dim,
    latent_dist=cfg.model.latent_dist,
    n_critic=cfg.n_critic,
    batch_axis=strategy.batch_axis,
    augment=augment.policy(cfg.augment, data.value_range(source)),
    regularizers=regularizers,
    reg_every=cfg.reg_every,
    d_weight_clip=cfg.d_weight_clip,
    g_ema_decay=cfg.g_ema_decay,
    ada_target=cfg.ada_target,
    ada_step=cfg.batch_size * cfg.n_critic / (cfg.ada_kimg * 1000),
    acgan_weight=cfg.acgan_weight,
    reuse_fakes=cfg.reuse_fakes,
  )
  return Assembly(
    source, strategy, generator, train_step, state, root, num_classes
  )


def _num_classes(cfg: config_lib.Config, source: data.Source) -> int:
  """The classes a conditional run generates (0 for an unconditional one);
  a ConfigError when the data has no labels for it."""
  if not config_lib.conditional(cfg):
    return 0
  k = data.num_classes(source)
  if not k or not hasattr(source, "labelled_batches"):
    keys = getattr(source, "label_keys", None)
    hint = (
      f"set data.label_key to one of {keys}, or "
      if keys
      else "use labelled data (a TFDS dataset with a ClassLabel, an image "
      "folder with class sub-folders, a Gaussian mixture), or set "
    )
    raise ConfigError(
      f"model.d_cond={cfg.model.d_cond!r} needs class labels, but "
      f"data.name={cfg.data.name!r} has no class-label feature "
      f"{cfg.data.label_key!r}; {hint}model.g_cond=none and model.d_cond=none"
    )
  return k


def _check_discriminator_batch(cfg: config_lib.Config, strategy) -> None:
  """Packs and minibatch-stddev groups must divide what D sees at once: the
  whole batch, or each device's part of it under pmap."""
  rows = cfg.batch_size // (
    strategy.num_devices if cfg.parallel == "pmap" else 1
  )
  m = cfg.model
  if rows % m.pack:
    raise ConfigError(
      f"each device's {rows} samples do not divide into packs of "
      f"model.pack={m.pack}; make batch_size/num_devices a multiple of it"
    )
  packs = rows // m.pack
  if m.d_minibatch == "stddev" and packs % min(m.minibatch_group, packs):
    raise ConfigError(
      f"D sees {packs} inputs at once, which do not divide into groups of "
      f"model.minibatch_group={m.minibatch_group}; choose a group size "
      "that divides it"
    )


def pipeline(
  cfg: config_lib.Config, source: data.Source, put: Callable
) -> data.Pipeline:
  """This process's batches of ``source``, ``n_critic`` per step, placed
  on the devices by ``put``."""
  # Every process has as many devices, and the strategy checked that the
  # batch splits over all of them, so it splits over the processes too.
  shard = data.Shard(jax.process_index(), jax.process_count())
  if config_lib.conditional(cfg):  # {"x": examples, "y": labels}
    batches, put_batch = source.labelled_batches(cfg.batch_size, shard), put
  else:
    batches = source.batches(cfg.batch_size, shard)
    put_batch = lambda x: put({"x": x})
  return data.Pipeline(
    batches,
    n_critic=cfg.n_critic * cfg.steps_per_call,
    threads=cfg.data.threads,
    buffer=cfg.data.buffer,
    put=put_batch,
  )


def _record(step: int, batches: data.Pipeline) -> dict:
  """The JSON part of a checkpoint: the step and the pipeline's position."""
  return {"step": step, "data": batches.state()}


class _Stop:
  """The stop signal, agreed between processes.

  One process may get SIGTERM before the others; every process checks the
  flags of all of them together, at the same steps, so all stop at one step.
  """

  def __init__(self, signals: StopOnSignal, every: int):
    self.signals, self.every = signals, every
    self.processes = jax.process_count()
    self.agreed, self.checked = None, None

  def __call__(self, step: int) -> bool:
    if self.agreed is None and self.processes == 1:
      self.agreed = self.signals.signum
    elif (
      self.agreed is None and step % self.every == 0 and step != self.checked
    ):
      self.checked = step
      from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top

      mine = np.int32(self.signals.signum or 0)
      everyone = multihost_utils.process_allgather(mine)
      self.agreed = int(everyone.max()) or None
    return self.agreed is not None


def _divergence(values: dict, limit: float) -> str | None:
  """What in the logged ``values`` shows divergence, or None."""
  for name in ("d_loss", "g_loss"):
    value = float(values[name])
    if not math.isfinite(value) or (limit and abs(value) > limit):
      return f"{name}={value:.4g}" + (
        f" (divergence_limit={limit:g})" if math.isfinite(value) else ""
      )
  return None


@jax.jit
def _finite_leaves(tree) -> jax.Array:
  leaves = [
    jnp.all(jnp.isfinite(x))
    for x in jax.tree.leaves(tree)
    if jnp.issubdtype(x.dtype, jnp.inexact)
  ]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def _all_finite(state: state_lib.GANState) -> bool:
  return bool(_finite_leaves(state))


def unrestorable(path: Path, error: Exception, fix: str) -> UserError:
  """The one line for a checkpoint orbax cannot restore: one of another
  state layout (another gan_jax version), or one it cannot read (cut short
  or damaged), for which ``fix`` says what to do instead."""
  why = " ".join(str(error).split())
  why = why.split(". See full TensorStore details")[0]  # A repr, not a why.
  # Without its tree's metadata file orbax reports any checkpoint as laid
  # out otherwise: that one is damaged.
  layout = ("tree structure" in why or "do not match" in why) and (
    path / "state" / "_METADATA"
  ).is_file()
  why = why if len(why) <= 200 else why[:200] + "…"
  if layout:
    return ConfigError(
      f"{path} holds a training state laid out otherwise than this "
      f"gan_jax's, probably written by another version (orbax: {why}); "
      "continue it with the version that wrote it, or choose a new --workdir"
    )
  return DataError(
    f"{path} cannot be read, damaged or cut short (orbax: {why}); {fix}"
  )


def _check_workdir(workdir: Path) -> None:
  """A --workdir that is a file, or inside one, is refused up front; so is
  a folder where a run writes a file."""
  for name in ("config.json", "metrics.jsonl"):
    if (workdir / name).is_dir():
      raise ConfigError(
        f"--workdir {workdir}: {workdir / name} is a folder, where a run "
        "writes a file; move it away or choose another --workdir"
      )
  folder = nearest_existing(workdir)
  if folder is None:
    return
  if not folder.is_dir():
    raise ConfigError(
      f"--workdir {workdir}: {folder} is a file, not a folder; choose "
      "another --workdir"
    )
  if not os.access(folder, os.W_OK | os.X_OK):
    raise ConfigError(
      f"--workdir {workdir}: {folder} cannot be written; choose a "
      "--workdir you can write"
    )


def check_workdir(workdir: str | Path, cfg: config_lib.Config) -> None:
  """What :func:`train` refuses of ``workdir`` before it builds anything: a
  file in its place, a folder it cannot write, or a run of another config
  (a ConfigError); for commands that train several runs, so that they check
  them all first."""
  _check_workdir(Path(workdir))
  _check_resumable(Path(workdir), cfg)


def train(
  cfg: config_lib.Config, workdir: str | Path, *, progress: bool = True
) -> RunResult:
  """Trains ``cfg`` in ``workdir``, resuming from its latest checkpoint.

  In a multi-process run every process calls this with the same arguments;
  process 0 alone writes logs, samples and ``config.json``.
  """
  # SIGTERM while the run starts (a preemption while it compiles) stops it
  # before its first step. Under jax.distributed it would otherwise go to
  # JAX's own preemption handler, and nothing would stop.
  with StopOnSignal((signal.SIGTERM,)) as starting:
    return _train(cfg, workdir, progress, starting)


def _train(cfg, workdir, progress: bool, starting: StopOnSignal) -> RunResult:
  # 1. Everything that depends on the input, before anything is written.
  workdir = Path(workdir)
  _check_workdir(workdir)
  parts = assemble(cfg)
  _check_resumable(workdir, cfg)
  source, strategy, state, root = (
    parts.source,
    parts.strategy,
    parts.state,
    parts.root,
  )
  # The feature space now: missing Inception weights (or the Inception
  # Score's classifier) are an error here, not at the first evaluation.
  evaluator = (
    Evaluator(cfg.eval, source, cfg.data.name).prepare()
    if cfg.eval.every
    else None
  )
  lead = jax.process_index() == 0
  say = _say if lead else lambda message: None
  batches = pipeline(cfg, source, strategy.put_batch)

  # 2. The initial state, then the latest checkpoint if there is one.
  if lead:
    try:
      workdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # Under /proc, or a read-only file system.
      raise ConfigError(
        f"--workdir {workdir} cannot be made ({e.strerror}); choose a "
        "--workdir you can write"
      ) from None
  checkpoints = Checkpointer(workdir / "checkpoints", keep=cfg.keep_checkpoints)
  latest = checkpoints.latest_step()
  placed = None
  if latest is not None:
    try:
      placed, record = checkpoints.restore(latest, strategy.restore_like(state))
    # orbax: ValueError for another tree or unreadable data, KeyError for a
    # missing item, a bare Exception for missing array files.
    except Exception as e:  # noqa: BLE001
      previous = max(
        (s for s in checkpoints.steps() if s < latest), default=None
      )
      checkpoints.close()
      fix = (
        f"delete that folder to continue from step {previous}"
        if previous is not None
        else "delete it, or choose a new --workdir"
      )
      raise unrestorable(checkpoints.path(latest), e, fix) from None
    batches.restore(record["data"])
    say(f"Resuming {workdir} from step {latest} ({checkpoints.path(latest)})")
  if lead:
    _write_text_atomically(workdir / "config.json", config_lib.dumps(cfg))
  placed = strategy.put_state(state if placed is None else placed)
  start = int(jax.device_get(strategy.get_state(placed).step))
  if start >= cfg.steps:
    checkpoints.close()
    say(
      f"{workdir} is already at step {start} of {cfg.steps}; "
      "nothing to do (raise steps=... to train on)"
    )
    final = jax.device_get(strategy.get_state(placed))
    return RunResult(state=final, step=start, workdir=workdir)

  # 3. Train.
  per_call = cfg.steps_per_call
  if per_call == 1:
    step_fn = strategy.compile(parts.train_step)
  else:
    step_fn = strategy.compile(steps_per_call(parts.train_step, per_call))
  samples = (
    SampleWriter(
      workdir,
      source,
      parts.generator,
      latent_dist=cfg.model.latent_dist,
      latent_dim=cfg.model.latent_dim,
      key=keys.stream(root, keys.SAMPLES),
      num_classes=parts.num_classes,
    )
    if lead
    else None
  )
  log = RunLog(workdir, start_step=start) if lead else None
  evaluations = (
    Evaluations(
      cfg, evaluator, parts.generator, root, workdir, parts.num_classes
    )
    if evaluator
    else None
  )
  train_root = keys.copy(state.rng)
  images_per_step = cfg.batch_size * cfg.n_critic
  bar = tqdm(
    total=cfg.steps,
    initial=start,
    unit="step",
    disable=not (progress and lead),
    dynamic_ncols=True,
    mininterval=1.0 if sys.stderr.isatty() else 30,
  )
  saved_at = latest

  def diverged(at: int, what: str) -> TrainingDiverged:
    kept = (
      f"the last good checkpoint, step {saved_at}, is kept in "
      f"{checkpoints.path(saved_at)}"
      if saved_at is not None
      else "no checkpoint was written"
    )
    return TrainingDiverged(
      f"training diverged at step {at}: {what}; {kept}. Lower the learning "
      "rates, add a regularizer (regularizers=...), or raise divergence_limit"
    )

  def save(at: int, metrics) -> None:
    nonlocal saved_at
    one = strategy.get_state(placed)
    what = _divergence(
      jax.device_get(strategy.get_metrics(metrics)), cfg.divergence_limit
    ) or (None if _all_finite(one) else "the state holds NaN or infinity")
    if what:
      raise diverged(at, what)
    checkpoints.save(at, one, _record(at, batches))
    saved_at = at

  # img/s counts training only: time spent evaluating is subtracted.
  timer_start, timed_from, rate, paused = None, start, None, 0.0
  step = start
  with StopOnSignal() as signals:
    signals.signum = signals.signum or starting.signum  # One while starting.
    stop = _Stop(signals, cfg.log_every)
    try:
      while step < cfg.steps and not stop(step):
        key = train_root if per_call > 1 else keys.step_key(train_root, step)
        placed, metrics = step_fn(placed, next(batches), key)
        step += per_call
        bar.update(per_call)
        if timer_start is None:  # Time from the end of the compiled first step.
          jax.block_until_ready(metrics)
          cpu_memory.release_freed_heap()  # What the compiler freed.
          timer_start, timed_from = time.perf_counter(), step
        if step % cfg.log_every == 0 or step == cfg.steps:
          values = jax.device_get(strategy.get_metrics(metrics))
          elapsed = time.perf_counter() - timer_start - paused
          if step > timed_from:
            rate = (step - timed_from) * images_per_step / elapsed
            values["img_per_s"] = rate
          if log:
            log.scalars(step, values)
          what = _divergence(values, cfg.divergence_limit)
          if what:
            raise diverged(step, what)
          bar.set_postfix(
            {
              "img/s": f"{rate or 0:.0f}",
              "D": f"{values['d_loss']:.3f}",
              "G": f"{values['g_loss']:.3f}",
            },
            refresh=False,
          )
        last = step == cfg.steps
        if samples and (step % cfg.sample_every == 0 or last):
          one = strategy.get_state(placed)  # G alone, to host: process 0's.
          g_params, g_state = jax.device_get(
            (state_lib.sampling_params(one), one.g_state)
          )
          _, pixels = samples.write(step, g_params, g_state, final=last)
          log.image(step, "samples", pixels)
        # A stop signal skips the evaluation: checkpoint and exit promptly;
        # but not the last one, which no rerun would make up.
        if evaluations and evaluations.due(step) and (last or not stop(step)):
          values, seconds = evaluations(
            step, strategy.get_state(placed), _record(step, batches)
          )
          paused += seconds
          if log:
            log.scalars(step, {f"eval/{k}": v for k, v in values.items()})
          say(
            f"step {step}: "
            + ", ".join(f"{k} {v:.4g}" for k, v in values.items())
          )
        if step % cfg.checkpoint_every == 0 or last:
          save(step, metrics)
      # Stopped by a signal between checkpoints (after a step at least).
      if saved_at != step and step > start:
        save(step, metrics)
    finally:  # Also on a second Ctrl-C: finish pending writes.
      bar.close()
      checkpoints.close()
      if evaluations:
        evaluations.close()
      if log:
        log.close()
  final = jax.device_get(strategy.get_state(placed))
  stopped_by = stop.agreed if step < cfg.steps else None
  if stopped_by is not None:
    say(
      f"Stopped by {signal.Signals(stopped_by).name} after step {step}; "
      + (
        f"checkpoint written to {checkpoints.path(saved_at)}"
        if saved_at is not None
        else "no step was taken, so no checkpoint was written"
      )
      + ". Run the same command again to continue."
    )
  else:
    say(f"Done: {step} steps in {workdir}; samples in {workdir / 'samples'}")
  return RunResult(
    state=final,
    step=step,
    workdir=workdir,
    stopped_by=stopped_by,
    images_per_second=rate,
  )
