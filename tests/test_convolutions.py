"""conv_impl: picking how convolutions are computed."""

import flax.linen as nn
import jax
import pytest

from gan_jax.models import convolutions, matmul_conv, winograd


def test_auto_is_winograd_on_cpu_and_xla_elsewhere(monkeypatch):
  assert convolutions.conv_impl("auto") == "winograd"  # the suite runs on CPU
  monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
  assert convolutions.conv_impl("auto") == "xla"
  assert convolutions.conv_impl("matmul") == "matmul"


def test_an_unknown_name_is_refused_with_the_choices():
  with pytest.raises(ValueError, match="'fft'.*winograd"):
    convolutions.conv_impl("fft")


@pytest.mark.parametrize(
  "impl,layers",
  [
    ("winograd", (winograd.Conv, winograd.ConvTranspose)),
    ("matmul", (matmul_conv.Conv, matmul_conv.ConvTranspose)),
    ("xla", (nn.Conv, nn.ConvTranspose)),
  ],
)
def test_layers_carry_the_dtype_and_precision(impl, layers):
  highest = jax.lax.Precision.HIGHEST
  conv, transpose = convolutions.conv_layers(impl, "bfloat16", highest)
  for made, layer in zip((conv(4, (3, 3)), transpose(4, (3, 3))), layers):
    assert type(made) is layer
    assert (made.dtype, made.precision) == ("bfloat16", highest)
