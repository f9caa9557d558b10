"""A tiny arithmetic language for spec arguments: `$filters * 4`, `$blocks - 1`.

It knows numbers, quoted strings, `$name` references and `+ - * / //` with
parentheses; `+` also joins strings (`$skip + "_up"`, for derived layer ids).
Nothing is ever passed to `eval`; a string that does not parse is an error.
"""
from __future__ import annotations

import re

_TOKEN = re.compile(r"\s*(?:(\d+\.\d*|\.\d+|\d+)|\$([A-Za-z_][A-Za-z0-9_]*)|(//|[-+*/()])"
                    r"|\"([^\"]*)\"|'([^']*)')")


# Bounds: an argument expression is a short formula. These keep a hostile spec from
# exhausting the stack (nesting), the CPU or memory (huge numbers, long products).
MAX_CHARS = 500
MAX_DEPTH = 32
MAX_DIGITS = 15
MAX_MAGNITUDE = 10 ** 15


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
            if len(num.replace(".", "").lstrip("0")) > MAX_DIGITS:
                raise ExprError(f"number {num[:20]}... has more than {MAX_DIGITS} digits in "
                                f"expression {text[:40]!r}")
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
    if len(text) > MAX_CHARS:
        raise ExprError(f"expression of {len(text):,} characters is longer than {MAX_CHARS}: "
                        f"{text[:40]!r}...")
    tokens = _tokens(text)
    depth = 0
    for kind, tok in tokens:
        depth += (kind, tok) == ("op", "(")
        depth -= (kind, tok) == ("op", ")")
        if depth > MAX_DEPTH:
            raise ExprError(f"parentheses nest deeper than {MAX_DEPTH} in expression "
                            f"{text[:40]!r}...")
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
    result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
              "/": lambda: a / b, "//": lambda: a // b}[op]()
    if abs(result) > MAX_MAGNITUDE:
        raise ExprError(f"value {result:.3g} is too large (over {MAX_MAGNITUDE:.0e}) in "
                        f"expression {text[:60]!r}")
    return result
