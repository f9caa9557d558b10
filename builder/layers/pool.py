"""Max, average and global pooling."""
from __future__ import annotations

from ..argtypes import BOOL, PADDING, PAIR, Arg
from ..registry import Inferred, LayerType, register_layer
from ._common import keras, rank, window_out

_POOL_ARGS = (
    Arg("size", PAIR, 2, "window size"),
    Arg("strides", PAIR, None, "step between windows (default: the window size)"),
    Arg("padding", PADDING, "valid", "valid: no padding; same: output = ceil(input / stride)"),
)


def _pool_infer(a, shapes):
    (s,) = shapes
    rank(s, 3, "pooling")
    k, st = a["size"], a["strides"] or a["size"]
    h = window_out(s[0], k[0], st[0], 1, a["padding"], "pooling")
    w = window_out(s[1], k[1], st[1], 1, a["padding"], "pooling")
    return Inferred((h, w, s[2]))


def _pool(cls_name):
    def build(a, name):
        cls = getattr(keras().layers, cls_name)
        return cls(pool_size=a["size"], strides=a["strides"] or a["size"], padding=a["padding"],
                   name=name)
    return build


register_layer(LayerType("maxpool", "2-D max pooling", _POOL_ARGS, _pool_infer,
                         _pool("MaxPooling2D"), primary="size"))
register_layer(LayerType("avgpool", "2-D average pooling", _POOL_ARGS, _pool_infer,
                         _pool("AveragePooling2D"), primary="size"))


def _global_infer(a, shapes):
    (s,) = shapes
    rank(s, 3, "global pooling")
    return Inferred((1, 1, s[2]) if a.get("keepdims") else (s[2],))


# keepdims gives [1, 1, c], ready to multiply with [h, w, c] (squeeze-and-excitation).
# Heads add these layers with no arguments, hence a.get().
_GLOBAL_ARGS = (Arg("keepdims", BOOL, False, "keep height and width as 1: output [1, 1, c]"),)


def _global(cls_name):
    def build(a, name):
        cls = getattr(keras().layers, cls_name)
        return cls(keepdims=a.get("keepdims", False), name=name)
    return build


register_layer(LayerType("globalavgpool", "mean over height and width", _GLOBAL_ARGS,
                         _global_infer, _global("GlobalAveragePooling2D")))
register_layer(LayerType("globalmaxpool", "max over height and width", _GLOBAL_ARGS,
                         _global_infer, _global("GlobalMaxPooling2D")))
