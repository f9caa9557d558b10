"""Typed argument kinds: one `check` for validation and one `schema` for the JSON Schema.

Strict on purpose: a bool is not an int, a string is not a number, and an int
is accepted where a float is expected (it widens without loss).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

REQUIRED = object()
MAX_INT = 2 ** 31 - 1  # no layer argument is larger; bigger numbers overflow sums and Keras


class ArgTypeError(ValueError):
    """A value that is not of the expected kind; the text says what was expected."""


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class ArgType:
    """A kind of argument value: how it is checked, described and put in the schema."""

    name: str
    describe: str
    checker: object = None
    json: dict = field(default_factory=dict)
    choices: tuple = ()

    def check(self, value):
        """Returns the normalised value, or raises ArgTypeError."""
        if self.choices:
            if value not in self.choices:
                from .errors import did_you_mean
                raise ArgTypeError(f"expected {self.describe}, received {_show(value)}; "
                                   + did_you_mean(value, self.choices))
            return value
        if _is_int(value) and abs(value) > MAX_INT:
            raise ArgTypeError(f"expected {self.describe}, received an integer of "
                               f"{len(str(value))} digits, larger than {MAX_INT:,}")
        bad = _non_finite(value)
        if bad is not None:
            # `.nan` and `.inf` read as YAML floats; they would only fail once training runs.
            raise ArgTypeError(f"expected {self.describe}, received {bad}: NaN and infinity "
                               "are not values a spec can hold")
        out = self.checker(value)
        if out is _BAD:
            raise ArgTypeError(f"expected {self.describe}, received {_show(value)}")
        return out

    def schema(self) -> dict:
        if self.choices:
            return {"enum": list(self.choices)}
        return dict(self.json)


_BAD = object()


def _non_finite(value):
    """The first NaN or infinity in `value` or in its items (lists nest one level: padding)."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, list):
            found = _non_finite(item)
            if found is not None:
                return found
        elif isinstance(item, float) and not math.isfinite(item):
            return item
    return None


def _show(value) -> str:
    from .errors import type_name
    return type_name(value)


def _int(v):
    return v if _is_int(v) else _BAD


def _pos_int(v):
    return v if _is_int(v) and v > 0 else _BAD


def _nonneg_int(v):
    return v if _is_int(v) and v >= 0 else _BAD


def _float(v):
    return float(v) if _is_number(v) else _BAD


def _pos_float(v):
    return float(v) if _is_number(v) and v > 0 else _BAD


def _nonneg_floats(v):
    out = _floats(v)
    return out if out is _BAD or min(out) >= 0 else _BAD


def _rate(v):
    return float(v) if _is_number(v) and 0 <= v < 1 else _BAD


def _bool(v):
    return v if isinstance(v, bool) else _BAD


def _str(v):
    return v if isinstance(v, str) and v else _BAD


def _pair(v):
    if _is_int(v) and v > 0:
        return (v, v)
    if isinstance(v, list) and len(v) == 2 and all(_is_int(x) and x > 0 for x in v):
        return tuple(v)
    return _BAD


def _padding2d(v):
    """An int, [rows, cols], or [[top, bottom], [left, right]]."""
    if _is_int(v) and v >= 0:
        return ((v, v), (v, v))
    if isinstance(v, list) and len(v) == 2:
        if all(_is_int(x) and x >= 0 for x in v):
            return ((v[0], v[0]), (v[1], v[1]))
        if all(isinstance(x, list) and len(x) == 2 and all(_is_int(y) and y >= 0 for y in x) for x in v):
            return (tuple(v[0]), tuple(v[1]))
    return _BAD


def _shape(v):
    if isinstance(v, list) and v and all(x is None or (_is_int(x) and x > 0) for x in v):
        return tuple(v)
    return _BAD


def _names(v):
    if isinstance(v, str) and v:
        return (v,)
    if isinstance(v, list) and v and all(isinstance(x, str) and x for x in v):
        return tuple(v)
    return _BAD


def _floats(v):
    if _is_number(v):
        return (float(v),)
    if isinstance(v, list) and v and all(_is_number(x) for x in v):
        return tuple(float(x) for x in v)
    return _BAD


def _indices(v):
    if isinstance(v, list) and v and all(_is_int(x) and x >= 0 for x in v):
        return tuple(v)
    return _BAD


INT = ArgType("int", "an integer", _int, {"type": "integer"})
POS_INT = ArgType("positive int", "a positive integer", _pos_int, {"type": "integer", "minimum": 1})
NONNEG_INT = ArgType("int >= 0", "an integer >= 0", _nonneg_int, {"type": "integer", "minimum": 0})
FLOAT = ArgType("float", "a number", _float, {"type": "number"})
POS_FLOAT = ArgType("float > 0", "a number > 0", _pos_float,
                    {"type": "number", "exclusiveMinimum": 0})
RATE = ArgType("rate", "a number in [0, 1)", _rate, {"type": "number", "minimum": 0, "exclusiveMaximum": 1})
BOOL = ArgType("bool", "true or false", _bool, {"type": "boolean"})
STR = ArgType("str", "a non-empty string", _str, {"type": "string", "minLength": 1})
PAIR = ArgType("int or [int, int]", "a positive integer or a list of two",
               _pair, {"oneOf": [{"type": "integer", "minimum": 1},
                                 {"type": "array", "items": {"type": "integer", "minimum": 1},
                                  "minItems": 2, "maxItems": 2}]})
PADDING2D = ArgType("padding", "an integer >= 0, [rows, cols] or [[top, bottom], [left, right]]",
                    _padding2d, {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "array"}]})
SHAPE = ArgType("shape", "a list of positive integers (null for any size)", _shape,
                {"type": "array", "items": {"type": ["integer", "null"]}, "minItems": 1})
NAMES = ArgType("name or [names]", "a layer id or a list of ids", _names,
                {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})
INDICES = ArgType("[int >= 0, ...]", "a non-empty list of integers >= 0", _indices,
                  {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1})
FLOATS = ArgType("number or [numbers]", "a number or a list of numbers", _floats,
                 {"oneOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}}]})

NONNEG_FLOATS = ArgType("number >= 0 or [numbers >= 0]", "a number >= 0 or a list of them",
                        _nonneg_floats,
                        {"oneOf": [{"type": "number", "minimum": 0},
                                   {"type": "array", "items": {"type": "number", "minimum": 0},
                                    "minItems": 1}]})


def enum(*choices: str, describe: str | None = None) -> ArgType:
    return ArgType("one of " + "|".join(choices), describe or "one of " + ", ".join(choices),
                   choices=tuple(choices))


ACTIVATIONS = ("linear", "relu", "leaky_relu", "sigmoid", "softmax", "tanh", "relu6", "elu",
               "gelu", "swish", "hard_swish", "hard_sigmoid")
ACTIVATION = enum(*ACTIVATIONS)
PADDING = enum("valid", "same")

def _scalar(v):
    return v if isinstance(v, (int, float, str)) else _BAD


SCALAR = ArgType("scalar", "a number, true/false or a string", _scalar,
                 {"type": ["number", "boolean", "string"]})

# Block argument declarations name a type with one of these words.
DECLARED_TYPES = {"int": INT, "float": FLOAT, "bool": BOOL, "str": STR, "scalar": SCALAR}


def type_of_default(value) -> ArgType | None:
    """The kind a block argument has when it is declared by a default value."""
    if isinstance(value, bool):
        return BOOL
    if _is_int(value):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return STR
    return None


@dataclass(frozen=True)
class Arg:
    """One argument of a layer, head or block: name, kind, default, one line of doc."""

    name: str
    type: ArgType
    default: object = REQUIRED
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED
