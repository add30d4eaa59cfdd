"""Graceful stop on SIGTERM and Ctrl-C (SIGINT).

The first signal only sets a flag: the loop finishes its step, writes a
checkpoint and exits. A second Ctrl-C raises KeyboardInterrupt at once.
"""

import signal
import threading
from typing import Self


class StopOnSignal:
  """Context manager: ``.signum`` is set once one of ``signals`` (SIGINT
  and SIGTERM) arrives."""

  SIGNALS = (signal.SIGINT, signal.SIGTERM)

  def __init__(self, signals: tuple[int, ...] = SIGNALS):
    self.signum: int | None = None
    self._signals = tuple(signals)
    self._previous = {}

  def _handle(self, signum, frame):
    del frame
    if self.signum is not None and signum == signal.SIGINT:
      raise KeyboardInterrupt
    self.signum = signum

  def __enter__(self) -> Self:
    if threading.current_thread() is threading.main_thread():
      for s in self._signals:
        self._previous[s] = signal.signal(s, self._handle)
    return self

  def __exit__(self, *exc) -> None:
    for s, handler in self._previous.items():
      signal.signal(s, handler)
    self._previous.clear()
