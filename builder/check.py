"""Checks a mapping of arguments against typed `Arg` models, collecting every error."""
from __future__ import annotations

import re

from .argtypes import ArgTypeError, Arg
from .errors import ErrorSink, Where, did_you_mean, type_name
from .expr import ExprError, evaluate, is_expr


def where_of(container, key, fallback: Where) -> Where:
    """The position of `container[key]` (a value), or the fallback."""
    wheres = getattr(container, "value_where", None) or {}
    if isinstance(container, list):
        items = getattr(container, "item_where", None) or []
        return items[key] if isinstance(key, int) and key < len(items) else fallback
    return wheres.get(key, getattr(container, "where", None) or fallback)


def key_where(container, key, fallback: Where) -> Where:
    """The position of the key itself (for unknown or duplicate keys)."""
    return (getattr(container, "key_where", None) or {}).get(key, fallback)


def resolve(value, env: dict | None):
    """Evaluates `$...` expressions (recursively inside lists) against `env`."""
    if is_expr(value):
        return evaluate(value, env or {})
    if isinstance(value, list) and any(is_expr(v) for v in value):
        return [resolve(v, env) for v in value]
    return value


def check_args(values, args: tuple, where: Where, path: str, sink: ErrorSink,
               env: dict | None = None, defaults: dict | None = None, what: str = "",
               partial: bool = False) -> dict:
    """Returns the typed arguments, defaults filled in; reports every problem to `sink`.

    Args:
        values: the mapping the user wrote (may be None for "no arguments").
        args: the argument model.
        defaults: spec-level defaults for this type, applied before the model's own.
        partial: only check what is written (for `defaults:`), fill in nothing.
    """
    values = values if values is not None else {}
    if not isinstance(values, dict):
        sink.add(where.at(path), f"{what or 'arguments'} must be a mapping, received "
                 f"{type_name(values)}")
        return {}
    known = {a.name: a for a in args}
    out: dict = {}
    written = set(values)
    for key, raw in values.items():
        kpath = f"{path}.{key}"
        if key not in known:
            sink.add(key_where(values, key, where).at(kpath),
                     f"unknown argument '{key}'" + (f" for {what}" if what else ""),
                     did_you_mean(key, known) if known else f"{what or 'this'} takes no arguments")
            continue
        typed = check_value(raw, known[key], where_of(values, key, where).at(kpath), sink, env)
        if typed is not _INVALID:
            out[key] = typed
    if partial:
        return out
    for a in args:
        if a.name in out or a.name in written:
            continue
        if defaults and a.name in defaults:
            out[a.name] = defaults[a.name]
        elif a.required:
            sink.add(where.at(path), f"missing required argument '{a.name}'"
                     + (f" for {what}" if what else ""), f"{a.name}: {a.type.describe}")
        else:
            out[a.name] = _normalised_default(a)
    return out


def _normalised_default(arg: Arg):
    """Defaults are written in their short form (`strides: 1`); typed like user values."""
    if arg.default is None or arg.type is None:
        return arg.default
    return arg.type.check(arg.default)


_INVALID = object()


def check_value(raw, arg: Arg, where: Where, sink: ErrorSink, env: dict | None):
    """One value: expression resolved, then type-checked. Returns _INVALID on error."""
    try:
        value = resolve(raw, env)
    except ExprError as exc:
        if getattr(exc, "quiet", False):
            sink.skip()  # a consequence of an error already reported
        else:
            sink.add(where, str(exc))
        return _INVALID
    if value is None and not arg.required and arg.default is None:
        return None
    try:
        return arg.type.check(value)
    except ArgTypeError as exc:
        shown = f" (from {raw!r})" if value is not raw else ""
        hint = ""
        if isinstance(value, str) and ("$" in value or _LOOKS_LIKE_ARITHMETIC.search(value)):
            hint = "arguments are written $name, e.g. 4 * $growth"
        sink.add(where, f"{exc}{shown}", hint)
        return _INVALID


# `4 * growth`: a formula whose `$` was forgotten.
_LOOKS_LIKE_ARITHMETIC = re.compile(r"[A-Za-z_0-9)]\s*(?:[-+*/<>]|//|==)\s*[A-Za-z_0-9(]")
