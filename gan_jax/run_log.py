"""Where a run's numbers go: ``metrics.jsonl`` and TensorBoard event files.

Event files are written with tensorboardX, so TensorFlow is not needed.
"""

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


class RunLog:
  """Appends one JSON line per logged step and mirrors it to TensorBoard."""

  def __init__(self, workdir: Path, start_step: int = 0):
    SummaryWriter = summary_writer_class()  # pylint: disable=invalid-name
    self.path = workdir / "metrics.jsonl"
    truncate_after(self.path, start_step)
    self._file = self.path.open("a", encoding="utf-8")
    # purge_step hides events past the step this run resumes from.
    self._tb = SummaryWriter(
      str(workdir / "tensorboard"), purge_step=start_step or None
    )

  def scalars(self, step: int, values: dict[str, Any]) -> None:
    values = {k: float(v) for k, v in values.items()}
    self._file.write(json.dumps({"step": step, **values}) + "\n")
    self._file.flush()
    for name, value in values.items():
      self._tb.add_scalar(name, value, step)

  def image(self, step: int, name: str, image: np.ndarray) -> None:
    """``image``: uint8 H×W×C."""
    self._tb.add_image(name, image, step, dataformats="HWC")

  def close(self) -> None:
    self._file.close()
    self._tb.close()


def summary_writer_class():
  """tensorboardX's ``SummaryWriter``, imported without PyTorch.

  Where PyTorch is installed, importing tensorboardX imports it too, only to
  name a type in its annotations: 1.5 s and 180 MB of resident memory in
  every run (2-core AMD EPYC, torch 2.13). So tensorboardX is imported with
  ``torch`` hidden (``sys.modules["torch"] = None`` makes its ``import
  torch`` fail, as where PyTorch is not installed), unless torch is already
  loaded. Event files do not depend on it.
  """
  if "tensorboardX" not in sys.modules and "torch" not in sys.modules:
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
      import tensorboardX  # pylint: disable=g-import-not-at-top,unused-import  # noqa: F401
    finally:
      del sys.modules["torch"]
  from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top

  return SummaryWriter


def _step_of(line: bytes) -> int | None:
  try:
    return int(json.loads(line)["step"])
  # A line cut short when a run was killed (not JSON, or not UTF-8 where a
  # character was cut in two: UnicodeDecodeError is a ValueError).
  except (ValueError, KeyError, TypeError):
    return None


def truncate_after(path: Path, step: int) -> None:
  """Drops records past ``step``, left by a run killed after its checkpoint.

  A resumed run logs those steps again; this keeps one record per step.
  """
  if not path.exists():
    return
  lines = path.read_bytes().splitlines(keepends=True)
  kept = [
    ln
    for ln in lines
    if (logged := _step_of(ln)) is not None and logged <= step
  ]
  if len(kept) != len(lines):
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"".join(kept))
    tmp.replace(path)
