"""The run log: metrics.jsonl and TensorBoard event files."""

import subprocess
import sys
import textwrap

from gan_jax import run_log


def _run(tmp_path, code):
  """Runs ``code`` in a fresh interpreter that finds a stand-in ``torch``
  package first (it counts its imports in ``imports.txt``)."""
  fake = tmp_path / "site" / "torch"
  fake.mkdir(parents=True)
  (fake / "__init__.py").write_text(
    "import pathlib\n"
    f"m = pathlib.Path({str(tmp_path / 'imports.txt')!r})\n"
    "m.write_text(m.read_text() + 'x' if m.exists() else 'x')\n"
    "Tensor = object\n"
  )
  prelude = f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r})\n"
  out = subprocess.run(
    [sys.executable, "-c", prelude + textwrap.dedent(code)],
    capture_output=True,
    text=True,
    check=False,
  )
  assert out.returncode == 0, out.stderr
  marks = tmp_path / "imports.txt"
  return marks.read_text() if marks.exists() else ""


def test_the_run_log_does_not_import_torch_where_it_is_installed(tmp_path):
  imports = _run(
    tmp_path,
    f"""
    from pathlib import Path
    from gan_jax.run_log import RunLog
    log = RunLog(Path({str(tmp_path)!r}))
    log.scalars(1, {{"loss": 0.5}})
    log.close()
    assert "torch" not in sys.modules, "the run log loaded torch"
    import torch  # Still importable afterwards.
    """,
  )
  assert imports == "x"  # Only the test's own import.
  assert (
    tmp_path / "metrics.jsonl"
  ).read_text() == '{"step": 1, "loss": 0.5}\n'
  assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


def test_the_run_log_works_beside_a_loaded_torch(tmp_path):
  imports = _run(
    tmp_path,
    f"""
    import torch
    from pathlib import Path
    from gan_jax.run_log import RunLog
    RunLog(Path({str(tmp_path)!r})).close()
    assert sys.modules["torch"] is torch
    """,
  )
  assert imports == "x"


def test_resuming_drops_the_records_past_the_checkpoint_and_cut_lines(
  tmp_path,
):
  """A run killed after its checkpoint at step 4 logged step 6, and was cut
  in the middle of a line, even inside a UTF-8 character."""
  path = tmp_path / "metrics.jsonl"
  lines = [
    b'{"step": 2, "d_loss": 1.0}\n',
    b'{"step": 4, "d_loss": 0.5}\n',
    b'{"step": 6, "d_loss": 0.25}\n',
    '{"step": 8, "note": "é'.encode()[:-1],
  ]
  path.write_bytes(b"".join(lines))
  run_log.truncate_after(path, 4)
  assert path.read_bytes() == b"".join(lines[:2])
  run_log.truncate_after(path, 4)  # Nothing past it: the file stays.
  assert path.read_bytes() == b"".join(lines[:2])
