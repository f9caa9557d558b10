"""Dense, flatten, reshape, channel selection, dropout, drop path and the activation layers."""
from __future__ import annotations

from ..argtypes import ACTIVATIONS, FLOAT, INDICES, POS_INT, RATE, SHAPE, Arg
from ..registry import Inferred, LayerType, ShapeMismatch, register_layer
from ._common import WEIGHT_ARGS, activation_fn, fmt, keras, prod, weight_kwargs


def _dense_infer(a, shapes):
    (s,) = shapes
    if s[-1] is None:
        raise ShapeMismatch(f"dense needs a known last dimension, received {fmt(s)}")
    w = s[-1] * a["units"] + (a["units"] if a["use_bias"] else 0)
    rows = prod(s[:-1]) or 1
    return Inferred(s[:-1] + (a["units"],), w, w, rows * s[-1] * a["units"])


register_layer(LayerType(
    "dense", "fully connected layer over the last axis",
    (Arg("units", POS_INT, doc="number of outputs"),) + WEIGHT_ARGS,
    _dense_infer,
    lambda a, name: keras().layers.Dense(a["units"], name=name, **weight_kwargs(a)),
    primary="units"))


def _flatten_infer(a, shapes):
    (s,) = shapes
    n = prod(s)
    if n is None:
        raise ShapeMismatch(f"flatten needs known dimensions, received {fmt(s)}")
    return Inferred((n,))


register_layer(LayerType("flatten", "flattens everything but the batch axis", (), _flatten_infer,
                         lambda a, name: keras().layers.Flatten(name=name)))


def _reshape_infer(a, shapes):
    (s,) = shapes
    target = a["shape"]
    if None in target:
        raise ShapeMismatch("reshape target must be fully known")
    if prod(s) is not None and prod(s) != prod(target):
        raise ShapeMismatch(f"cannot reshape {fmt(s)} ({prod(s)} values) to {fmt(target)} "
                            f"({prod(target)} values)")
    return Inferred(tuple(target))


def _select_infer(a, shapes):
    (s,) = shapes
    channels = s[-1]
    if channels is not None and max(a["channels"]) >= channels:
        raise ShapeMismatch(f"select names channel {max(a['channels'])}, the input has "
                            f"{channels} (0 to {channels - 1})")
    return Inferred(s[:-1] + (len(a["channels"]),))


def _select_build(a, name):
    from ..keras_layers import SelectChannels
    return SelectChannels(list(a["channels"]), name=name)


# With `parallel:`, branches that each see some of the channels: LeNet-5's C3 table.
register_layer(LayerType(
    "select", "keeps the listed channels (last axis), in the order given",
    (Arg("channels", INDICES, doc="channel indices, from 0"),), _select_infer, _select_build,
    primary="channels"))

register_layer(LayerType(
    "reshape", "reshapes to the given shape (without batch)",
    (Arg("shape", SHAPE, doc="target shape"),), _reshape_infer,
    lambda a, name: keras().layers.Reshape(a["shape"], name=name), primary="shape"))

register_layer(LayerType(
    "dropout", "randomly zeroes a fraction of inputs while training",
    (Arg("rate", RATE, doc="fraction to drop"),),
    lambda a, shapes: Inferred(shapes[0]),
    lambda a, name: keras().layers.Dropout(a["rate"], name=name), primary="rate"))


def _drop_path_build(a, name):
    from ..keras_layers import DropPath
    return DropPath(a["rate"], name=name)


# Stochastic depth, on a residual branch before its add (EfficientNet, ConvNeXt).
register_layer(LayerType(
    "drop_path", "while training, zeroes whole samples with probability rate (stochastic depth)",
    (Arg("rate", RATE, doc="probability of dropping a sample's branch"),),
    lambda a, shapes: Inferred(shapes[0]), _drop_path_build, primary="rate"))


def _activation_layer(act: str, doc: str):
    register_layer(LayerType(
        act, doc, (), lambda a, shapes: Inferred(shapes[0]),
        lambda a, name: keras().layers.Activation(activation_fn(act), name=name)))


for _act in ACTIVATIONS:
    if _act not in ("linear", "leaky_relu", "softmax"):
        _activation_layer(_act, f"{_act} activation")

register_layer(LayerType(
    "leaky_relu", "leaky ReLU: x if x > 0 else slope * x",
    (Arg("slope", FLOAT, 0.3, "slope for negative inputs"),),
    lambda a, shapes: Inferred(shapes[0]),
    lambda a, name: keras().layers.LeakyReLU(negative_slope=a["slope"], name=name),
    primary="slope"))

register_layer(LayerType(
    "softmax", "softmax over the last axis", (),
    lambda a, shapes: Inferred(shapes[0]),
    lambda a, name: keras().layers.Softmax(name=name)))

register_layer(LayerType(
    "identity", "passes its input through (a named point in the graph)", (),
    lambda a, shapes: Inferred(shapes[0]),
    lambda a, name: keras().layers.Identity(name=name)))
