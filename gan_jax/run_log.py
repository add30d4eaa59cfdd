"""Where a run's numbers go: ``metrics.jsonl`` and TensorBoard event files.

Event files are written with tensorboardX, so TensorFlow is not needed.
"""

import json
from pathlib import Path
from typing import Any

import numpy as np


class RunLog:
  """Appends one JSON line per logged step and mirrors it to TensorBoard."""

  def __init__(self, workdir: Path):
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top

    self.path = workdir / "metrics.jsonl"
    self._file = self.path.open("a", encoding="utf-8")
    self._tb = SummaryWriter(str(workdir / "tensorboard"))

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


def truncate_after(path: Path, step: int) -> None:
  """Drops records past ``step``, left by a run killed after its checkpoint.

  A resumed run logs those steps again; this keeps one record per step.
  """
  if not path.exists():
    return
  lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
  kept = [ln for ln in lines if ln.strip() and json.loads(ln)["step"] <= step]
  if len(kept) != len(lines):
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(kept), encoding="utf-8")
    tmp.replace(path)
