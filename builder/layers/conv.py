"""Convolutions (grouped and dilated), transposed convolution, padding, upsampling, cropping."""
from __future__ import annotations

from ..argtypes import PADDING, PADDING2D, PAIR, POS_INT, Arg, enum
from ..registry import Inferred, LayerType, ShapeMismatch, register_layer
from ._common import WEIGHT_ARGS, fmt, keras, rank, weight_kwargs, window_out

_CONV_ARGS = (
    Arg("filters", POS_INT, doc="number of output channels"),
    Arg("kernel", PAIR, 3, "kernel size"),
    Arg("strides", PAIR, 1, "step between windows"),
    Arg("padding", PADDING, "valid", "valid: no padding; same: output = ceil(input / stride)"),
    Arg("dilation", PAIR, 1, "spacing between kernel taps"),
    Arg("groups", POS_INT, 1, "channel groups (2 gives AlexNet's two towers)"),
) + WEIGHT_ARGS


def _conv_infer(a, shapes):
    (s,) = shapes
    rank(s, 3, "conv")
    cin, f, g = s[2], a["filters"], a["groups"]
    if cin is None:
        raise ShapeMismatch("conv needs a known number of input channels")
    if cin % g or f % g:
        raise ShapeMismatch(f"groups={g} must divide input channels ({cin}) and filters ({f})")
    (kh, kw), (sh, sw), (dh, dw) = a["kernel"], a["strides"], a["dilation"]
    if (dh, dw) != (1, 1) and (sh, sw) != (1, 1):
        raise ShapeMismatch("dilation and strides > 1 cannot be combined")
    h = window_out(s[0], kh, sh, dh, a["padding"], "conv")
    w = window_out(s[1], kw, sw, dw, a["padding"], "conv")
    weights = kh * kw * (cin // g) * f + (f if a["use_bias"] else 0)
    macs = (h or 0) * (w or 0) * f * kh * kw * (cin // g)
    return Inferred((h, w, f), weights, weights, macs)


def _conv_build(a, name):
    return keras().layers.Conv2D(a["filters"], a["kernel"], strides=a["strides"],
                                 padding=a["padding"], dilation_rate=a["dilation"],
                                 groups=a["groups"], name=name, **weight_kwargs(a))


register_layer(LayerType("conv", "2-D convolution (channels last)", _CONV_ARGS, _conv_infer,
                         _conv_build, primary="filters"))

_DEPTHWISE_ARGS = (
    Arg("kernel", PAIR, 3, "kernel size"),
    Arg("strides", PAIR, 1, "step between windows"),
    Arg("padding", PADDING, "valid", "valid: no padding; same: output = ceil(input / stride)"),
    Arg("multiplier", POS_INT, 1, "output channels per input channel"),
) + WEIGHT_ARGS


def _depthwise_infer(a, shapes):
    (s,) = shapes
    rank(s, 3, "depthwise_conv")
    cin, m = s[2], a["multiplier"]
    if cin is None:
        raise ShapeMismatch("depthwise_conv needs a known number of input channels")
    (kh, kw), (sh, sw) = a["kernel"], a["strides"]
    h = window_out(s[0], kh, sh, 1, a["padding"], "depthwise_conv")
    w = window_out(s[1], kw, sw, 1, a["padding"], "depthwise_conv")
    f = cin * m
    weights = kh * kw * f + (f if a["use_bias"] else 0)
    return Inferred((h, w, f), weights, weights, (h or 0) * (w or 0) * f * kh * kw)


def _depthwise_build(a, name):
    kw = weight_kwargs(a)
    kw["depthwise_initializer"] = kw.pop("kernel_initializer")
    kw["depthwise_regularizer"] = kw.pop("kernel_regularizer")
    return keras().layers.DepthwiseConv2D(a["kernel"], strides=a["strides"], padding=a["padding"],
                                          depth_multiplier=a["multiplier"], name=name, **kw)


# kernel 1 is a learned scale and bias per channel: LeNet-5's trainable subsampling.
register_layer(LayerType(
    "depthwise_conv", "a convolution per channel (MobileNet; kernel 1: a scale per channel)",
    _DEPTHWISE_ARGS, _depthwise_infer, _depthwise_build, primary="kernel"))

_SEPARABLE_ARGS = (
    Arg("filters", POS_INT, doc="number of output channels (of the 1x1 convolution)"),
    Arg("kernel", PAIR, 3, "kernel size of the per-channel convolution"),
    Arg("strides", PAIR, 1, "step between windows"),
    Arg("padding", PADDING, "valid", "valid: no padding; same: output = ceil(input / stride)"),
    Arg("dilation", PAIR, 1, "spacing between kernel taps"),
    Arg("multiplier", POS_INT, 1, "channels per input channel after the per-channel step"),
) + WEIGHT_ARGS


def _separable_infer(a, shapes):
    (s,) = shapes
    rank(s, 3, "separable_conv")
    cin, m, f = s[2], a["multiplier"], a["filters"]
    if cin is None:
        raise ShapeMismatch("separable_conv needs a known number of input channels")
    (kh, kw), (sh, sw), (dh, dw) = a["kernel"], a["strides"], a["dilation"]
    if (dh, dw) != (1, 1) and (sh, sw) != (1, 1):
        raise ShapeMismatch("dilation and strides > 1 cannot be combined")
    h = window_out(s[0], kh, sh, dh, a["padding"], "separable_conv")
    w = window_out(s[1], kw, sw, dw, a["padding"], "separable_conv")
    weights = kh * kw * cin * m + cin * m * f + (f if a["use_bias"] else 0)
    macs = (h or 0) * (w or 0) * cin * m * (kh * kw + f)
    return Inferred((h, w, f), weights, weights, macs)


def _separable_build(a, name):
    kw = weight_kwargs(a)
    init, reg = kw.pop("kernel_initializer"), kw.pop("kernel_regularizer")
    return keras().layers.SeparableConv2D(
        a["filters"], a["kernel"], strides=a["strides"], padding=a["padding"],
        dilation_rate=a["dilation"], depth_multiplier=a["multiplier"], name=name,
        depthwise_initializer=init, pointwise_initializer=init, depthwise_regularizer=reg,
        pointwise_regularizer=reg, **kw)


# Same arrays as keras.layers.SeparableConv2D: depthwise kernel, pointwise kernel, bias.
register_layer(LayerType(
    "separable_conv", "a per-channel convolution then a 1x1 convolution (Xception, MobileNet)",
    _SEPARABLE_ARGS, _separable_infer, _separable_build, primary="filters"))

_DECONV_ARGS = (
    Arg("filters", POS_INT, doc="number of output channels"),
    Arg("kernel", PAIR, 3, "kernel size"),
    Arg("strides", PAIR, 2, "upsampling factor"),
    Arg("padding", PADDING, "same", "same: output = input * stride"),
) + WEIGHT_ARGS


def _deconv_len(n, k, s, padding):
    if n is None:
        return None
    return n * s if padding == "same" else n * s + max(k - s, 0)


def _deconv_infer(a, shapes):
    (s,) = shapes
    rank(s, 3, "conv_transpose")
    cin, f = s[2], a["filters"]
    (kh, kw), (sh, sw) = a["kernel"], a["strides"]
    h, w = _deconv_len(s[0], kh, sh, a["padding"]), _deconv_len(s[1], kw, sw, a["padding"])
    weights = kh * kw * cin * f + (f if a["use_bias"] else 0)
    macs = (s[0] or 0) * (s[1] or 0) * cin * kh * kw * f
    return Inferred((h, w, f), weights, weights, macs)


register_layer(LayerType(
    "conv_transpose", "transposed convolution (learned upsampling, FCN-style)", _DECONV_ARGS,
    _deconv_infer,
    lambda a, name: keras().layers.Conv2DTranspose(a["filters"], a["kernel"], strides=a["strides"],
                                                   padding=a["padding"], name=name,
                                                   **weight_kwargs(a)),
    primary="filters"))


def _border_infer(key: str, sign: int, layer: str):
    """Adds (zeropad, sign 1) or removes (crop, sign -1) rows and columns at the borders."""
    def infer(a, shapes):
        (s,) = shapes
        rank(s, 3, layer)
        (t, b), (l, r) = a[key]
        h = None if s[0] is None else s[0] + sign * (t + b)
        w = None if s[1] is None else s[1] + sign * (l + r)
        if (h is not None and h <= 0) or (w is not None and w <= 0):
            raise ShapeMismatch(f"cropping {a[key]} leaves nothing of {fmt(s)}")
        return Inferred((h, w, s[2]))
    return infer


register_layer(LayerType(
    "zeropad", "pads height and width with zeros",
    (Arg("padding", PADDING2D, doc="rows/columns of zeros on each side"),),
    _border_infer("padding", 1, "zeropad"),
    lambda a, name: keras().layers.ZeroPadding2D(a["padding"], name=name), primary="padding"))


register_layer(LayerType(
    "crop", "removes rows and columns at the borders",
    (Arg("cropping", PADDING2D, doc="rows/columns removed on each side"),),
    _border_infer("cropping", -1, "crop"),
    lambda a, name: keras().layers.Cropping2D(a["cropping"], name=name), primary="cropping"))


def _up_infer(a, shapes):
    (s,) = shapes
    rank(s, 3, "upsample")
    fh, fw = a["size"]
    return Inferred((None if s[0] is None else s[0] * fh, None if s[1] is None else s[1] * fw, s[2]))


register_layer(LayerType(
    "upsample", "repeats rows and columns (nearest) or interpolates (bilinear)",
    (Arg("size", PAIR, 2, "upsampling factor"),
     Arg("interpolation", enum("nearest", "bilinear"), "nearest", "how new pixels are filled")),
    _up_infer,
    lambda a, name: keras().layers.UpSampling2D(a["size"], interpolation=a["interpolation"],
                                                name=name),
    primary="size"))
