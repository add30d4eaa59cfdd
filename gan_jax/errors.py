"""Errors meant for people: one line that names the problem and the fix."""

import sys


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


def report(error: UserError) -> int:
  """Prints ``error: <message>`` to stderr; returns the exit code.

  Work a failed step left pending (orbax's coroutines after a checkpoint
  it could not read) would otherwise print a traceback each as the
  process exits, after the one line that matters: they are kept quiet.
  """
  print(f"error: {error}", file=sys.stderr)
  sys.unraisablehook = lambda unraisable: None
  return error.exit_code
