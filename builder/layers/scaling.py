"""Fixed input scaling in the model: rescaling (x * scale + offset) and normalization.

keras.applications models carry their preprocessing as layers (EfficientNet starts with
Rescaling(1/255) and Normalization), so a spec of one must be able to write them too.
"""
from __future__ import annotations

from ..argtypes import FLOATS, NONNEG_FLOATS, Arg
from ..registry import Inferred, LayerType, ShapeMismatch, register_layer
from ._common import fmt, keras


def _per_channel(a, s, layer: str, *names: str) -> None:
    """Each listed argument has 1 value (for all channels) or one per channel."""
    c = s[-1]
    for name in names:
        n = len(a[name])
        if n != 1 and c is None:
            raise ShapeMismatch(f"{layer} {name} has {n} values; the channel count of "
                                f"{fmt(s)} is unknown")
        if n not in (1, c):
            raise ShapeMismatch(f"{layer} {name} has {n} values, the input has {c} channels "
                                f"(give 1 value or {c})")


def _scalar_or_list(values: tuple):
    return values[0] if len(values) == 1 else list(values)


def _rescaling_infer(a, shapes):
    (s,) = shapes
    _per_channel(a, s, "rescaling", "scale", "offset")
    return Inferred(s)


register_layer(LayerType(
    "rescaling", "x * scale + offset, with fixed numbers (no arrays), e.g. scale: 0.00392157",
    (Arg("scale", FLOATS, doc="a factor, or one per channel"),
     Arg("offset", FLOATS, 0.0, "added after scaling, or one per channel")),
    _rescaling_infer,
    lambda a, name: keras().layers.Rescaling(_scalar_or_list(a["scale"]),
                                             _scalar_or_list(a["offset"]), name=name),
    primary="scale"))


def _normalization_infer(a, shapes):
    (s,) = shapes
    _per_channel(a, s, "normalization", "mean", "variance")
    c = s[-1]
    # mean and variance per channel, then a count: all three non-trainable, as in Keras.
    return Inferred(s, 2 * c + 1, 0)


def _normalization_build(a, name):
    from ..keras_layers import Normalization
    return Normalization(preset_mean=a["mean"], preset_variance=a["variance"], name=name)


# Its arrays are keras.layers.Normalization(axis=-1)'s, built without values (mean,
# variance, count), as EfficientNet builds it: ImageNet weights load into them by position.
register_layer(LayerType(
    "normalization", "(x - mean) / sqrt(variance) per channel; mean and variance are arrays "
    "(not trained) that start at the values given",
    (Arg("mean", FLOATS, 0.0, "a mean, or one per channel"),
     Arg("variance", NONNEG_FLOATS, 1.0, "a variance, or one per channel")),
    _normalization_infer, _normalization_build))
