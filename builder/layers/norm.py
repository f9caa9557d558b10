"""Batch, layer and local response normalization, and ConvNeXt's layer scale."""
from __future__ import annotations

from ..argtypes import BOOL, FLOAT, POS_FLOAT, POS_INT, Arg
from ..registry import Inferred, LayerType, ShapeMismatch, register_layer
from ._common import keras


def _bn_infer(a, shapes):
    (s,) = shapes
    c = s[-1]
    if c is None:
        raise ShapeMismatch("batchnorm needs a known channel count")
    trainable = c * (int(a["scale"]) + int(a["center"]))
    return Inferred(s, trainable + 2 * c, trainable)


register_layer(LayerType(
    "batchnorm", "batch normalization over the last axis",
    (Arg("epsilon", FLOAT, 1e-3, "added to the variance"),
     Arg("momentum", FLOAT, 0.99, "moving-average momentum"),
     Arg("scale", BOOL, True, "learn a scale (gamma)"),
     Arg("center", BOOL, True, "learn an offset (beta)")),
    _bn_infer,
    lambda a, name: keras().layers.BatchNormalization(
        epsilon=a["epsilon"], momentum=a["momentum"], scale=a["scale"], center=a["center"],
        name=name)))


def _lrn_build(a, name):
    from ..keras_layers import LocalResponseNormalization
    return LocalResponseNormalization(depth_radius=a["radius"], bias=a["bias"], alpha=a["alpha"],
                                      beta=a["beta"], name=name)


# Defaults are AlexNet's: n = 5 (radius 2), k = 2, alpha = 1e-4, beta = 0.75.
register_layer(LayerType(
    "lrn", "local response normalization across channels (AlexNet)",
    (Arg("radius", POS_INT, 2, "channels on each side in the sum"),
     Arg("bias", FLOAT, 2.0, "k in the paper"),
     Arg("alpha", FLOAT, 1e-4, "scale of the sum of squares"),
     Arg("beta", FLOAT, 0.75, "exponent")),
    lambda a, shapes: Inferred(shapes[0]), _lrn_build))


def _ln_infer(a, shapes):
    (s,) = shapes
    c = s[-1]
    if c is None:
        raise ShapeMismatch("layernorm needs a known last dimension")
    weights = c * (int(a["scale"]) + int(a["center"]))
    return Inferred(s, weights, weights)


# Arrays as keras.layers.LayerNormalization: gamma, then beta (each of the channel count).
register_layer(LayerType(
    "layernorm", "layer normalization over the last axis (ConvNeXt, transformers)",
    (Arg("epsilon", POS_FLOAT, 1e-3, "added to the variance (ConvNeXt: 1e-6)"),
     Arg("scale", BOOL, True, "learn a scale (gamma)"),
     Arg("center", BOOL, True, "learn an offset (beta)")),
    _ln_infer,
    lambda a, name: keras().layers.LayerNormalization(
        axis=-1, epsilon=a["epsilon"], scale=a["scale"], center=a["center"], name=name)))


def _scale_infer(a, shapes):
    (s,) = shapes
    if s[-1] is None:
        raise ShapeMismatch("layer_scale needs a known last dimension")
    return Inferred(s, s[-1], s[-1])


def _scale_build(a, name):
    from ..keras_layers import LayerScale
    return LayerScale(init_value=a["init_value"], name=name)


register_layer(LayerType(
    "layer_scale", "x * gamma, one learned factor per channel (ConvNeXt's layer scale)",
    (Arg("init_value", FLOAT, 1e-6, "the starting value of every factor"),),
    _scale_infer, _scale_build, primary="init_value"))
