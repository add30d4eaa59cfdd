"""The run log: metrics.jsonl and TensorBoard event files."""

import subprocess
import sys
import textwrap


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
