"""A tiny arithmetic language for spec arguments: `$filters * 4`, `$blocks - 1`.

It knows numbers, quoted strings, `$name` references and `+ - * / //` with
parentheses; `+` also joins strings (`$skip + "_up"`, for derived layer ids).
Nothing is ever passed to `eval`; a string that does not parse is an error.
"""
from __future__ import annotations

import re

_TOKEN = re.compile(r"\s*(?:(\d+\.\d*|\.\d+|\d+)|\$([A-Za-z_][A-Za-z0-9_]*)|(//|[-+*/()])"
                    r"|\"([^\"]*)\"|'([^']*)')")


class ExprError(ValueError):
    """An expression that does not parse or refers to an unknown argument."""


def is_expr(value) -> bool:
    return isinstance(value, str) and value.lstrip().startswith(("$", "(")) and "$" in value


def _tokens(text: str):
    pos, out = 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise ExprError(f"cannot read {text[pos:].strip()!r} in expression {text!r}")
        num, name, op, dq, sq = m.groups()
        if dq is not None or sq is not None:
            out.append(("str", dq if dq is not None else sq))
        elif num is not None:
            out.append(("num", float(num) if "." in num else int(num)))
        elif name is not None:
            out.append(("name", name))
        else:
            out.append(("op", op))
        pos = m.end()
    return out


def evaluate(text: str, env: dict):
    """Evaluates `text` with `$name` looked up in `env`.

    >>> evaluate("$filters * 4", {"filters": 64})
    256
    """
    tokens = _tokens(text)
    value, pos = _sum(tokens, 0, env, text)
    if pos != len(tokens):
        raise ExprError(f"unexpected {tokens[pos][1]!r} in expression {text!r}")
    return value


def _sum(tokens, pos, env, text):
    value, pos = _product(tokens, pos, env, text)
    while pos < len(tokens) and tokens[pos] in (("op", "+"), ("op", "-")):
        op = tokens[pos][1]
        right, pos = _product(tokens, pos + 1, env, text)
        value = _arith(op, value, right, text)
    return value, pos


def _product(tokens, pos, env, text):
    value, pos = _unary(tokens, pos, env, text)
    while pos < len(tokens) and tokens[pos] in (("op", "*"), ("op", "/"), ("op", "//")):
        op = tokens[pos][1]
        right, pos = _unary(tokens, pos + 1, env, text)
        value = _arith(op, value, right, text)
    return value, pos


def _unary(tokens, pos, env, text):
    if pos >= len(tokens):
        raise ExprError(f"expression {text!r} ends too early")
    kind, tok = tokens[pos]
    if (kind, tok) == ("op", "-"):
        value, pos = _unary(tokens, pos + 1, env, text)
        return _arith("*", -1, value, text), pos
    if (kind, tok) == ("op", "("):
        value, pos = _sum(tokens, pos + 1, env, text)
        if pos >= len(tokens) or tokens[pos] != ("op", ")"):
            raise ExprError(f"missing ')' in expression {text!r}")
        return value, pos + 1
    if kind in ("num", "str"):
        return tok, pos + 1
    if kind == "name":
        if tok not in env:
            from .errors import did_you_mean
            raise ExprError(f"unknown argument ${tok} in {text!r}; " + did_you_mean(tok, env)
                            if env else f"unknown argument ${tok} in {text!r}: no arguments here")
        return env[tok], pos + 1
    raise ExprError(f"unexpected {tok!r} in expression {text!r}")


def _arith(op, a, b, text):
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    for v in (a, b):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ExprError(f"arithmetic on a non-number ({v!r}) in {text!r}")
    if op in ("/", "//") and b == 0:
        raise ExprError(f"division by zero in {text!r}")
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b
    return a // b
