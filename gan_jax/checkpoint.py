"""Checkpoints of the whole run with orbax-checkpoint's CheckpointManager.

Each checkpoint holds the complete :class:`~gan_jax.state.GANState` (both
players' parameters, model state and optimizer state, the step and the RNG
root) and a small JSON record with the step and the input pipeline's
position (a grain iterator state). The position counts steps of this
process's shard; every process has read as many, so one record serves any
process count, and a run may resume on more or fewer hosts. Saving is asynchronous: the
arrays are copied off the device before ``save`` returns, and the write
happens in the background. In a multi-process run every process calls
``save`` and ``restore``; orbax writes each array once.
"""

import logging
import math
from pathlib import Path
from typing import Any

import orbax.checkpoint as ocp


class _QuietOrbax(logging.Filter):
  """Drops orbax's warning that a checkpoint folder lacks its metadata
  file: such a folder fails to restore, and the run's one-line error names
  it and what to do; the warning only doubled that line."""

  def filter(self, record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Metadata file does not exist")


logging.getLogger("absl").addFilter(_QuietOrbax())


class Checkpointer:
  """Saves the steps it is given, keeping the last ``keep``.

  The caller decides when to save (every K steps, at the end, on a signal).
  """

  def __init__(
    self,
    directory: str | Path,
    *,
    keep: int,
    best: str | None = None,
    best_mode: str = "min",
    create: bool = True,
  ):
    """``best``: keep the ``keep`` checkpoints with the best ``metrics[best]``
    (orbax's ``best_fn``) instead of the latest ones."""
    self.directory = Path(directory).absolute()
    # A checkpoint scored without ``best`` (eval.best changed on resume) or
    # with a NaN (a diverged generator) ranks last.
    worst = float("inf") if best_mode == "min" else float("-inf")

    def best_fn(metrics):
      value = metrics.get(best)
      return worst if value is None or not math.isfinite(value) else value

    options = ocp.CheckpointManagerOptions(
      max_to_keep=keep,
      enable_async_checkpointing=True,
      create=create,
      best_fn=None if best is None else best_fn,
      best_mode=best_mode,
      keep_checkpoints_without_metrics=best is None,
      # A run saves step N to checkpoints/ and best/ at once; across
      # processes orbax's barriers are named by the step, so each manager
      # names its own by its folder, or the two would meet in one barrier.
      multiprocessing_options=ocp.options.MultiprocessingOptions(
        barrier_sync_key_prefix=self.directory.name
      ),
    )
    self._manager = ocp.CheckpointManager(self.directory, options=options)

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def steps(self) -> list[int]:
    return list(self._manager.all_steps())

  def save(
    self,
    step: int,
    state: Any,
    record: dict[str, Any],
    metrics: dict[str, float] | None = None,
  ) -> None:
    """Starts saving ``state`` and ``record`` (JSON-able) as checkpoint
    ``step``.

    The arrays are copied to host memory before this returns, so the caller
    may donate ``state`` to the next step at once.
    """
    self._manager.save(
      step,
      force=True,
      metrics=metrics,
      args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), record=ocp.args.JsonSave(record)
      ),
    )

  def restore(self, step: int, like: Any) -> tuple[Any, dict[str, Any]]:
    """Restores ``(state, record)`` at ``step``; the state takes the
    structure and placement of ``like``."""
    restored = self._manager.restore(
      step,
      args=ocp.args.Composite(
        state=ocp.args.StandardRestore(like), record=ocp.args.JsonRestore()
      ),
    )
    return restored.state, restored.record

  def path(self, step: int) -> Path:
    return self.directory / str(step)

  def close(self) -> None:
    """Waits for pending writes, then releases the manager."""
    self._manager.wait_until_finished()
    self._manager.close()
