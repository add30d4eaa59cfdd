"""Model architectures, each a builder of a (generator, discriminator) pair.

A builder takes the model config, the shape of one data example and the
pmap axis name (``None`` unless the pmap strategy runs the step), and returns
two :class:`Model` (init, apply) pairs. Register your own with
``@ARCHITECTURES.register("name")``.

A conditional run (``model.g_cond`` and ``model.d_cond`` set) also passes
``num_classes=K``; the builder returns a generator of ``(z, y)`` and a
discriminator of ``(images, y)`` (:mod:`gan_jax.models.conditioning`).
"""

import inspect

import jax.numpy as jnp

from gan_jax.config import ModelConfig
from gan_jax.errors import ConfigError
from gan_jax.models import dcgan, mlp, resnet
from gan_jax.models.convolutions import conv_impl
from gan_jax.models.model import Model, from_linen
from gan_jax.models.packing import packed
from gan_jax.registry import Registry

ARCHITECTURES = Registry("architecture")

__all__ = ["ARCHITECTURES", "Model", "build", "from_linen", "packed"]


def _square_resolution(
  arch: str, data_shape: tuple[int, ...], supported: tuple[int, ...]
) -> int:
  """The side R of R×R×C image data that ``arch`` supports, or a
  ConfigError saying what the data is and what to do."""
  if len(data_shape) != 3:
    raise ConfigError(
      f"model.arch={arch!r} needs square H×W×C images, but the data gives "
      f"examples of shape {data_shape}; use model.arch=mlp for vector data"
    )
  if data_shape[0] != data_shape[1]:
    raise ConfigError(
      f"model.arch={arch!r} needs square H×W×C images, but the data gives "
      f"examples of shape {data_shape}; crop them square with "
      "data.crop=center (for TFDS datasets and image folders), or make your "
      "source's examples square"
    )
  res = data_shape[0]
  if res not in supported:
    sizes = ", ".join(map(str, supported[:-1])) + f" and {supported[-1]}"
    raise ConfigError(
      f"model.arch={arch!r} supports resolutions {sizes}, but the data is "
      f"{res}×{res}; resize it with data.image_size"
    )
  return res


def _refuse_unused(cfg: ModelConfig, arch: str, fields: dict[str, str]):
  """A ConfigError if one of ``fields`` (name: why ``arch`` ignores it) is
  set away from its default, rather than a run that silently ignores it."""
  default = ModelConfig()
  for name, why in fields.items():
    value, usual = getattr(cfg, name), getattr(default, name)
    if value != usual:
      raise ConfigError(
        f"model.{name}={value!r} has no effect with model.arch={arch!r} "
        f"({why}); set model.{name}={usual}, or choose an arch that uses it"
      )


def _conditioning(
  cfg: ModelConfig, num_classes: int, g_batchnorm: bool
) -> tuple[dict, dict]:
  """The generator's and the discriminator's conditioning options."""
  if cfg.g_cond == "cbn" and not g_batchnorm:
    raise ConfigError(
      "model.g_cond=cbn conditions the generator's BatchNorm, but "
      f"model.g_norm={cfg.g_norm!r}; set model.g_norm=batch or "
      "model.g_cond=concat"
    )
  g = {"num_classes": num_classes, "cond": cfg.g_cond}
  return g, {"num_classes": num_classes, "cond": cfg.d_cond}


@ARCHITECTURES.register("dcgan")
def build_dcgan(
  cfg: ModelConfig,
  data_shape: tuple[int, ...],
  axis_name: str | None = None,
  num_classes: int = 0,
) -> tuple[Model, Model]:
  res = _square_resolution("dcgan", data_shape, (8, 16, 32, 64, 128))
  _refuse_unused(cfg, "dcgan", {"attention_res": "resnet only"})
  g_cond, d_cond = _conditioning(cfg, num_classes, cfg.g_norm == "batch")
  common = {
    "width": cfg.width,
    "momentum": cfg.bn_momentum,
    "axis_name": axis_name,
    "conv_impl": conv_impl(cfg.conv_impl),
    "dtype": jnp.dtype(cfg.precision),
  }
  g = dcgan.Generator(
    resolution=res,
    channels=data_shape[2],
    norm=cfg.g_norm,
    extra_layers=cfg.g_extra_layers,
    **g_cond,
    **common,
  )
  d = dcgan.Discriminator(
    resolution=res,
    norm=cfg.d_norm,
    extra_layers=cfg.d_extra_layers,
    **_d_options(cfg),
    **d_cond,
    **common,
  )
  return from_linen(g), from_linen(d)


@ARCHITECTURES.register("resnet")
def build_resnet(
  cfg: ModelConfig,
  data_shape: tuple[int, ...],
  axis_name: str | None = None,
  num_classes: int = 0,
) -> tuple[Model, Model]:
  """SNGAN's ResNets (models.resnet) for square images of 8 to 64 pixels."""
  res = _square_resolution("resnet", data_shape, (8, 16, 32, 64))
  _refuse_unused(
    cfg,
    "resnet",
    {
      "g_extra_layers": "dcgan only",
      "d_extra_layers": "dcgan only",
      "g_norm": "its generator always uses BatchNorm",
      "d_norm": "its discriminator has no normalisation layers",
      "d_minibatch": "dcgan and mlp only",
    },
  )
  g_cond, d_cond = _conditioning(cfg, num_classes, g_batchnorm=True)
  sizes = [s for s in (8, 16, 32) if s <= res // 2]
  if cfg.attention_res and cfg.attention_res not in sizes:
    raise ConfigError(
      f"model.attention_res={cfg.attention_res} is not a feature-map size "
      f"that both networks have at {res}×{res} "
      f"({', '.join(map(str, sizes)) or 'none'}); 0 turns it off"
    )
  common = {
    "width": cfg.width,
    "attention_res": cfg.attention_res,
    "conv_impl": conv_impl(cfg.conv_impl),
    "dtype": jnp.dtype(cfg.precision),
  }
  g = resnet.Generator(
    resolution=res,
    channels=data_shape[2],
    momentum=cfg.bn_momentum,
    axis_name=axis_name,
    **g_cond,
    **common,
  )
  d = resnet.Discriminator(
    resolution=res, spectral_norm=cfg.d_spectral_norm, **d_cond, **common
  )
  return from_linen(g), from_linen(d)


@ARCHITECTURES.register("mlp")
def build_mlp(
  cfg: ModelConfig,
  data_shape: tuple[int, ...],
  axis_name: str | None = None,
  num_classes: int = 0,
) -> tuple[Model, Model]:
  _refuse_unused(
    cfg,
    "mlp",
    {
      "g_extra_layers": "dcgan only",
      "d_extra_layers": "dcgan only",
      "attention_res": "resnet only",
      "precision": "it computes in float32",
    },
  )
  g_cond, d_cond = _conditioning(cfg, num_classes, cfg.g_norm == "batch")
  common = {
    "hidden": cfg.hidden,
    "depth": cfg.depth,
    "momentum": cfg.bn_momentum,
    "axis_name": axis_name,
  }
  g = mlp.Generator(
    out_shape=tuple(data_shape), norm=cfg.g_norm, **g_cond, **common
  )
  d = mlp.Discriminator(norm=cfg.d_norm, **_d_options(cfg), **d_cond, **common)
  return from_linen(g), from_linen(d)


def _d_options(cfg: ModelConfig) -> dict:
  """The built-in discriminators' options against mode collapse."""
  return {
    "spectral_norm": cfg.d_spectral_norm,
    "minibatch": cfg.d_minibatch,
    "minibatch_kernels": cfg.minibatch_kernels,
    "minibatch_kernel_dim": cfg.minibatch_kernel_dim,
    "minibatch_group": cfg.minibatch_group,
  }


def build(
  cfg: ModelConfig,
  data_shape: tuple[int, ...],
  axis_name: str | None = None,
  num_classes: int = 0,
) -> tuple[Model, Model]:
  """The (generator, discriminator) of ``cfg.arch``; with ``cfg.pack`` > 1
  the discriminator judges packs of that many samples (PacGAN). With
  ``num_classes`` > 0 both are conditional on labels of that many classes
  (``cfg.g_cond``, ``cfg.d_cond``)."""
  builder = ARCHITECTURES[cfg.arch]
  extra = {}
  if num_classes:
    if "num_classes" not in inspect.signature(builder).parameters:
      raise ConfigError(
        f"model.arch={cfg.arch!r} builds unconditional models (its builder "
        "takes no num_classes); set model.g_cond=none and model.d_cond=none, "
        "or give the builder a num_classes argument"
      )
    extra = {"num_classes": num_classes}
  g, d = builder(cfg, tuple(data_shape), axis_name, **extra)
  return g, packed(d, cfg.pack)
