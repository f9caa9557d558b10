"""Weight initializers by name, with arguments: `he_normal` or `{truncated_normal: {stddev: 0.02}}`.

The EfficientNet and ConvNeXt families start their kernels from initializers with
arguments (`VarianceScaling(2.0, "fan_out", "truncated_normal")`, `TruncatedNormal(0.02)`),
so a name alone is not enough. Each initializer's arguments are checked here, before
Keras is imported, so a typo is a spec error with a position rather than a Keras error
at build time.
"""
from __future__ import annotations

import math

from ..argtypes import ArgType, ArgTypeError

_ANY = object()
_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _positive(v):
    return _number(v) and v > 0


# name -> {argument: (default, check, what the check wants)}; xavier is Glorot's other name.
_NO_ARGS: dict = {}
SIGNATURES = {
    "glorot_uniform": _NO_ARGS, "glorot_normal": _NO_ARGS, "xavier_uniform": _NO_ARGS,
    "xavier_normal": _NO_ARGS, "he_normal": _NO_ARGS, "he_uniform": _NO_ARGS,
    "lecun_normal": _NO_ARGS, "lecun_uniform": _NO_ARGS, "zeros": _NO_ARGS, "ones": _NO_ARGS,
    "constant": {"value": (0.0, _number, "a finite number")},
    "random_normal": {"mean": (0.0, _number, "a finite number"),
                      "stddev": (0.05, _positive, "a number > 0")},
    "truncated_normal": {"mean": (0.0, _number, "a finite number"),
                         "stddev": (0.05, _positive, "a number > 0")},
    "random_uniform": {"minval": (-0.05, _number, "a finite number"),
                       "maxval": (0.05, _number, "a finite number")},
    "variance_scaling": {"scale": (1.0, _positive, "a number > 0"),
                         "mode": ("fan_in", _MODES.__contains__, "one of " + ", ".join(_MODES)),
                         "distribution": ("truncated_normal", _DISTRIBUTIONS.__contains__,
                                          "one of " + ", ".join(_DISTRIBUTIONS))},
    "orthogonal": {"gain": (1.0, _positive, "a number > 0")},
}
_KERAS_NAME = {"xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal"}


def _did_you_mean(value, choices) -> str:
    from ..errors import did_you_mean
    return did_you_mean(value, choices)


def _check_name(name):
    if not isinstance(name, str) or name not in SIGNATURES:
        from ..errors import type_name
        shown = repr(name) if isinstance(name, str) else type_name(name)
        raise ArgTypeError(f"unknown initializer {shown}; {_did_you_mean(name, SIGNATURES)}")
    return name


def _check_args(name: str, given) -> dict:
    signature = SIGNATURES[name]
    if given is None:
        given = {}
    if not isinstance(given, dict):
        from ..errors import type_name
        raise ArgTypeError(f"the arguments of {name} must be a mapping, received "
                           f"{type_name(given)}")
    out = {}
    for key, value in given.items():
        if key not in signature:
            hint = _did_you_mean(key, signature) if signature else f"{name} takes no arguments"
            raise ArgTypeError(f"unknown argument {key!r} for initializer {name}; {hint}")
        _, ok, wants = signature[key]
        if isinstance(value, float) and not math.isfinite(value):
            raise ArgTypeError(f"{name}.{key} must be {wants}, received {value}: NaN and "
                               "infinity are not values a spec can hold")
        if not ok(value):
            raise ArgTypeError(f"{name}.{key} must be {wants}, received {value!r}")
        out[key] = float(value) if _number(value) else value
    if name == "random_uniform":
        low = out.get("minval", signature["minval"][0])
        high = out.get("maxval", signature["maxval"][0])
        if low >= high:
            raise ArgTypeError(f"random_uniform needs minval < maxval, received {low} and {high}")
    return out


def _initializer(v):
    """A name, or a one-entry mapping {name: {arguments}}; returns the name or {name: args}."""
    if isinstance(v, str):
        return _check_name(v)
    if isinstance(v, dict):
        if len(v) != 1:
            raise ArgTypeError("an initializer with arguments is a mapping of one name, e.g. "
                               f"{{truncated_normal: {{stddev: 0.02}}}}, received {len(v)} keys")
        ((name, given),) = v.items()
        name = _check_name(name)
        return {name: _check_args(name, given)}
    from ..errors import type_name
    raise ArgTypeError("expected an initializer name or {name: {arguments}}, received "
                       + type_name(v))


def _signature_text(name: str) -> str:
    """`random_normal {mean: 0.0, stddev: 0.05}`: the name with its arguments' defaults."""
    args = SIGNATURES[name]
    if not args:
        return name
    return name + " {" + ", ".join(f"{k}: {d}" for k, (d, _, _) in args.items()) + "}"


INITIALIZER = ArgType(
    "initializer", "an initializer name, or {name: {arguments}} (defaults shown): "
    + ", ".join(_signature_text(n) for n in SIGNATURES),
    _initializer,
    {"oneOf": [{"enum": list(SIGNATURES)},
               {"type": "object", "minProperties": 1, "maxProperties": 1,
                "propertyNames": {"enum": list(SIGNATURES)}}]})


def keras_initializer(value):
    """The Keras initializer for a checked value (a name string, or {name: arguments})."""
    import keras
    if isinstance(value, str) and not SIGNATURES[value]:
        return _KERAS_NAME.get(value, value)  # Keras's own short form, as it writes configs
    if isinstance(value, str):
        name, args = value, {}
    else:
        ((name, args),) = value.items()
    # The class, not keras.initializers.get(name): get("constant") fails without a value.
    words = _KERAS_NAME.get(name, name).split("_")
    return getattr(keras.initializers, "".join(w.capitalize() for w in words))(**args)
