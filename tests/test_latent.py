"""Latent-space tools: truncation, interpolation, and their PNG grids."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import explore, latent, run
from tests.helpers import png_size


def test_truncation_bounds_every_value_and_zero_turns_it_off():
  z = latent.truncated("normal", jax.random.key(0), 500, 8, 0.5)
  assert float(jnp.abs(z).max()) <= 0.5 and float(jnp.abs(z).max()) > 0.45
  z = latent.truncated("uniform", jax.random.key(0), 500, 8, 0.25)
  assert float(jnp.abs(z).max()) <= 0.25
  np.testing.assert_array_equal(
    latent.truncated("normal", jax.random.key(1), 4, 3, 0.0),
    latent.sample("normal", jax.random.key(1), 4, 3),
  )


def test_spherical_interpolation_goes_from_a_to_b_along_the_arc():
  a = latent.of_seed("normal", 0, 16)
  b = latent.of_seed("normal", 1, 16)
  path = latent.interpolate("normal", a, b, 5)
  np.testing.assert_allclose(path[0], a, atol=1e-5)
  np.testing.assert_allclose(path[-1], b, atol=1e-5)
  # The middle point is sin(Ω/2)/sin(Ω)·(a + b); between unit vectors the
  # path keeps the norm 1 (a straight line would not).
  mid = path[2] / jnp.linalg.norm(path[2])
  np.testing.assert_allclose(mid, (a + b) / jnp.linalg.norm(a + b), atol=1e-5)
  unit = latent.interpolate(
    "normal", a / jnp.linalg.norm(a), b / jnp.linalg.norm(b), 7
  )
  np.testing.assert_allclose(jnp.linalg.norm(unit, axis=1), 1.0, rtol=1e-5)
  # Uniform noise: a straight line.
  line = latent.interpolate("uniform", a, b, 3)
  np.testing.assert_allclose(line[1], (a + b) / 2, rtol=1e-6)
  # The same seed names the same vector.
  np.testing.assert_array_equal(a, latent.of_seed("normal", 0, 16))


def test_grids_of_a_trained_run(tiny_digits, tmp_path, capsys):
  tiny_digits.steps, tiny_digits.checkpoint_every = 4, 4
  run.train(tiny_digits, tmp_path, progress=False)
  out = tmp_path / "inter.png"
  code = explore.main(
    [
      "--workdir",
      str(tmp_path),
      "interpolate",
      "--seeds",
      "0,1,2",
      "--steps",
      "5",
      "--out",  # After the command's flags, as the usage shows; or before.
      str(out),
    ]
  )
  assert code == 0
  # 2 rows × 5 columns of 8×8 digits enlarged to 32×32, 1-pixel gaps.
  assert png_size(out) == (5 * 33 + 1, 2 * 33 + 1)
  code = explore.main(
    ["--workdir", str(tmp_path), "truncation", "--thresholds", "1,0.5"]
  )
  assert code == 0
  made = tmp_path / "explore" / "truncation_0000004.png"
  assert png_size(made) == (10 * 33 + 1, 2 * 33 + 1)
  rows = explore.truncation_latents("normal", 16, [1.0, 0.5], 10)
  assert float(jnp.abs(rows[10:]).max()) <= 0.5
  assert explore.main(["--workdir", str(tmp_path / "none"), "truncation"]) == 2
  capsys.readouterr()
  assert explore.main(
    ["--workdir", str(tmp_path), "truncation", "--label", "3"]
  )
  assert "unconditional run; --label needs" in capsys.readouterr().err
  # A damaged checkpoint: one line that names it and the others to choose.
  (tmp_path / "checkpoints" / "4" / "record" / "metadata").write_text("x")
  capsys.readouterr()
  assert explore.main(["--workdir", str(tmp_path), "truncation"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "checkpoints/4 cannot be read" in err[0], err


@pytest.mark.parametrize(
  "args",
  [
    ["--step", "abc", "truncation"],
    ["truncation", "--count", "0"],
    ["truncation", "--thresholds", ","],
    ["classes", "--count", "-1"],
    ["--out", "grid", "truncation"],  # not a .png
    ["--out", ".", "truncation"],  # a folder
    ["truncation", "--out", "grid"],
    ["truncation", "--thresholds", "1,0"],  # 0 is no threshold
    ["interpolate", "--truncation", "-1"],
  ],
)
def test_explore_bad_arguments_are_usage_errors(tmp_path, args, capsys):
  with pytest.raises(SystemExit) as e:
    explore.main(["--workdir", str(tmp_path), *args])
  assert e.value.code == 2
  assert "error: argument" in capsys.readouterr().err
  assert list(tmp_path.iterdir()) == []  # Nothing made on the way.
