"""Errors meant for people: one line that names the problem and the fix."""

import argparse
import sys
import threading
from pathlib import Path


class UserError(Exception):
  """A problem with the user's input (config, data, files), not a bug.

  The command-line runner prints ``error: <message>`` on one line and exits
  with code 2. The message should say what is wrong and how to fix it.
  """

  exit_code = 2


class ConfigError(UserError):
  """The experiment config is malformed: unknown key, wrong type, bad value."""


class DataError(UserError):
  """A dataset is missing, unprepared, corrupt or inconsistent."""


class TrainingDiverged(UserError):
  """Training produced NaN, infinity or a loss beyond ``divergence_limit``.

  The run stops without writing the diverged state; exit code 3.
  """

  exit_code = 3


def reason(error: Exception) -> str:
  """A library's exception in one line, to quote inside a UserError: its
  message's first line, or its type's name when it has none."""
  text = str(error)
  return text.splitlines()[0] if text else type(error).__name__


def report(error: UserError) -> int:
  """Prints ``error: <message>`` to stderr; returns the exit code."""
  print(f"error: {error}", file=sys.stderr)
  quiet_leftovers()
  return error.exit_code


def quiet_leftovers() -> None:
  """Keeps work left pending by an error or a second Ctrl-C (orbax's
  coroutines after a checkpoint it could not read, its writer threads cut
  off at exit) from printing a traceback each as the process exits, after
  the one line that matters."""
  sys.unraisablehook = lambda unraisable: None
  threading.excepthook = lambda args: None


class CommandParser(argparse.ArgumentParser):
  """``argparse.ArgumentParser`` whose usage errors are one line, like the
  other errors: ``<prog>: error: <problem>; see <prog> --help``, exit code
  2, instead of the whole usage block above the problem. Subcommands'
  parsers are of this class too (argparse makes them of the parent's)."""

  def error(self, message: str):
    self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def nearest_existing(path: Path) -> Path | None:
  """``path`` if it exists, else its nearest parent that does (None only
  where not even the current folder exists): where a path to be made
  meets the file system, to check that it is a folder."""
  return next((p for p in (path, *path.parents) if p.exists()), None)


def path_argument(text: str) -> str:
  """An argparse ``type`` for a path: refuses an empty one, as a shell
  variable that is unset gives (``--workdir "$RUN"``), which would
  otherwise name the current folder."""
  if not text.strip():
    raise argparse.ArgumentTypeError(
      "an empty path (an unset shell variable?); give a path"
    )
  return text
