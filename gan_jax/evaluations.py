"""Evaluations during training: score the generator every ``eval.every``
steps and at the end, log ``eval/<key>``, keep the best checkpoint.

The best checkpoint lives in ``<workdir>/best`` (orbax's ``best_fn``). A run
resumed from before an evaluation it already made, scores that step again
(the same value, on CPU bit for bit) but does not save it twice.
"""

import time
from pathlib import Path

import jax

from gan_jax import config as config_lib
from gan_jax import keys
from gan_jax import state as state_lib
from gan_jax.checkpoint import Checkpointer
from gan_jax.metrics.evaluator import Evaluator


def score(
  evaluator: Evaluator,
  cfg: config_lib.Config,
  generator,
  g_params,
  g_state,
  root,
  num_classes: int = 0,
) -> dict[str, float]:
  """The run's metrics of a generator, on the run's fixed evaluation noise.

  Training and ``python -m gan_jax.evaluate checkpoint`` both score this way,
  so the command reproduces what the run logged.
  """
  return evaluator.evaluate_generator(
    generator,
    g_params,
    g_state,
    keys.stream(root, keys.EVAL),
    latent_dist=cfg.model.latent_dist,
    latent_dim=cfg.model.latent_dim,
    num_classes=num_classes,
  )


class Evaluations:
  def __init__(
    self,
    cfg: config_lib.Config,
    evaluator: Evaluator,
    generator,
    root,
    workdir: Path,
    num_classes: int = 0,
  ):
    """``evaluator``: of ``cfg.eval``, prepared (:meth:`Evaluator.prepare`)
    before the run wrote anything."""
    self.cfg = cfg
    self.num_classes = num_classes
    self.generator = generator
    self.root = root
    self.evaluator = evaluator
    self.best = None
    if cfg.eval.best:
      self.best = Checkpointer(
        workdir / "best",
        keep=1,
        best=cfg.eval.best,
        best_mode=config_lib.resolved_best_mode(cfg.eval),
      )

  def due(self, step: int) -> bool:
    return step % self.cfg.eval.every == 0 or step == self.cfg.steps

  def __call__(self, step: int, state, record: dict) -> tuple[dict, float]:
    """Scores ``state``'s generator; returns the values and seconds taken.

    ``state``: one copy of the state, as the run checkpoints it (across
    processes, global arrays, which orbax saves and host copies would not
    be); the generator is scored from a host copy of its parameters.
    """
    start = time.perf_counter()
    g_params, g_state = jax.device_get(
      (state_lib.sampling_params(state), state.g_state)
    )
    values = score(
      self.evaluator,
      self.cfg,
      self.generator,
      g_params,
      g_state,
      self.root,
      self.num_classes,
    )
    if self.best is not None and step not in self.best.steps():
      self.best.save(step, state, record, metrics=values)
    return values, time.perf_counter() - start

  def close(self) -> None:
    if self.best is not None:
      self.best.close()
