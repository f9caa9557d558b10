"""Pieces shared by the layer definitions: weight arguments, shape helpers, Keras access."""
from __future__ import annotations

from ..argtypes import ACTIVATION, BOOL, FLOAT, Arg
from ..registry import ShapeMismatch
from .initializers import INITIALIZER, keras_initializer

WEIGHT_ARGS = (
    Arg("activation", ACTIVATION, "linear", "activation applied to the output"),
    Arg("use_bias", BOOL, True, "add a learned bias"),
    Arg("kernel_init", INITIALIZER, "glorot_uniform", "weight initializer (xavier = glorot, he)"),
    Arg("bias_init", INITIALIZER, "zeros", "bias initializer"),
    Arg("l1", FLOAT, 0.0, "L1 regularization factor on the weights"),
    Arg("l2", FLOAT, 0.0, "L2 regularization factor on the weights"),
)

def keras():
    """Keras, imported only when a model is built (validation never needs it)."""
    import keras as k
    return k


def weight_kwargs(args: dict) -> dict:
    """The Keras keyword arguments for activation, bias, initializers, regularizers."""
    k = keras()
    reg = None
    if args["l1"] or args["l2"]:
        reg = k.regularizers.L1L2(l1=args["l1"], l2=args["l2"])
    act = args["activation"]
    return {
        "activation": None if act == "linear" else activation_fn(act),
        "use_bias": args["use_bias"],
        "kernel_initializer": keras_initializer(args["kernel_init"]),
        "bias_initializer": keras_initializer(args["bias_init"]),
        "kernel_regularizer": reg,
    }


def activation_fn(name: str):
    """The Keras name; hard_sigmoid is relu6(x + 3) / 6, MobileNetV3's own definition."""
    return "silu" if name == "swish" else name


def rank(shape: tuple, want: int, layer: str) -> None:
    if len(shape) != want:
        raise ShapeMismatch(f"{layer} expects a rank-{want} input (without batch), "
                            f"received shape {fmt(shape)}")


def fmt(shape: tuple) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def window_out(n, k: int, s: int, d: int, padding: str, what: str):
    """Output length of a convolution or pooling window over one axis of length n."""
    if n is None:
        return None
    if padding == "same":
        return -(-n // s)
    span = (k - 1) * d + 1
    if n < span:
        raise ShapeMismatch(f"{what} window {span} is larger than the input ({n})")
    return (n - span) // s + 1


def prod(dims) -> int | None:
    out = 1
    for d in dims:
        if d is None:
            return None
        out *= d
    return out
