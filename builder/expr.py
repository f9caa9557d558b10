"""A small closed language for spec values: `4 * $growth`, `$t > 1 and $stride == 1`.

Any string value that names an argument (`$name`) is an expression. It knows
numbers, quoted strings, `true`/`false`, `$name` references (and read-only
fields such as `$in.channels`), arithmetic `+ - * / //` (`+` also joins
strings, for derived ids), comparisons `== != < <= > >=`, `and`, `or`, `not`
and a conditional `A if COND else B`, with parentheses. The text is parsed into
a small tree and then evaluated; nothing is ever passed to `eval`, and only the
taken side of a conditional (or of `and`/`or`) is evaluated. Hand-written
rather than `ast.parse` with a whitelist: the grammar, its bounds and its
messages (which name the character where reading failed) are ours to keep.
"""
from __future__ import annotations

import math
import operator
import re

_TOKEN = re.compile(r"\s*(?:((?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)"
                    r"|\$([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)"
                    r"|(//|==|!=|<=|>=|[-+*/()<>])"
                    r"|\"([^\"]*)\"|'([^']*)'|([A-Za-z_][A-Za-z0-9_]*))")
_NAME_REF = re.compile(r"\$[A-Za-z_]")
KEYWORDS = {"and", "or", "not", "if", "else"}
CONSTANTS = {"true": True, "false": False, "True": True, "False": False}
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}

# Bounds: an argument expression is a short formula. These keep a hostile spec from
# exhausting the stack (nesting), the CPU or memory (huge numbers, long products).
MAX_CHARS = 500
MAX_DEPTH = 32
MAX_DIGITS = 15
MAX_MAGNITUDE = 10 ** 15
# Every value an expression makes is bounded, not only its text: blocks pass the string one
# level makes to the next, so six nested `$s + $s + ...` would otherwise grow a 1 KB spec
# into gigabytes. Derived ids are short; no kspec value needs a longer string.
MAX_STRING_CHARS = 1_000


class ExprError(ValueError):
    """An expression that does not parse, refers to an unknown argument or mixes kinds."""


class UnknownValue:
    """A read-only name whose value is not known where it is read (`$in` before the
    shape pass can reach it); reading it is an error that says why."""

    def __init__(self, why: str, quiet: bool = False):
        self.why = why
        self.quiet = quiet  # unknown because of an error already reported: say nothing more


class UnknownValueError(ExprError):
    def __init__(self, message: str, quiet: bool):
        super().__init__(message)
        self.quiet = quiet


def is_expr(value) -> bool:
    """A string that names an argument (`$name`) anywhere in it."""
    return isinstance(value, str) and _NAME_REF.search(value) is not None


def evaluate(text: str, env: dict):
    """Evaluates `text` with `$name` looked up in `env`.

    >>> evaluate("$filters * 4", {"filters": 64})
    256
    >>> evaluate("$c // 2 if $c > 8 else $c", {"c": 64})
    32
    """
    if len(text) > MAX_CHARS:
        raise ExprError(f"expression of {len(text):,} characters is longer than {MAX_CHARS}: "
                        f"{text[:40]!r}...")
    parser = _Parser(text, _tokens(text))
    tree = parser.conditional()
    if parser.pos != len(parser.tokens):
        parser.fail("expected an operator or the end")
    return _Eval(text, env).value(tree)


def _tokens(text: str) -> list:
    """(kind, value, offset) triples; kinds: num, str, name, op, kw, const."""
    pos, out = 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            at = len(text[pos:]) - len(text[pos:].lstrip()) + pos
            raise ExprError(f"cannot read {text[at:at + 12]!r} at character {at + 1} of "
                            f"expression {text!r}")
        num, name, op, dq, sq, word = m.groups()
        start = m.start(m.lastindex)
        if dq is not None or sq is not None:
            out.append(("str", dq if dq is not None else sq, start))
        elif num is not None:
            if len(re.sub(r"[eE].*", "", num).replace(".", "").lstrip("0")) > MAX_DIGITS:
                raise ExprError(f"number {num[:20]}... has more than {MAX_DIGITS} digits in "
                                f"expression {text[:40]!r}")
            is_float = "." in num or "e" in num.lower()
            value = float(num) if is_float else int(num)
            if abs(value) > MAX_MAGNITUDE:  # `1e400` is infinity, `1e300` no spec's number
                raise ExprError(f"number {num[:20]} is too large (over {MAX_MAGNITUDE:.0e}) "
                                f"in expression {text[:60]!r}")
            out.append(("num", value, start))
        elif name is not None:
            out.append(("name", name, start))
        elif op is not None:
            out.append(("op", op, start))
        elif word in KEYWORDS:
            out.append(("kw", word, start))
        elif word in CONSTANTS:
            out.append(("const", CONSTANTS[word], start))
        else:
            raise ExprError(f"'{word}' at character {start + 1} of expression {text!r} is not "
                            f"a value; arguments are written ${word}")
        pos = m.end()
    return out


class _Parser:
    """Recursive descent, lowest precedence first: conditional, or, and, not,
    comparison, sum, product, unary, atom. Builds tuples: ("op", symbol, a, b)."""

    def __init__(self, text, tokens):
        self.text, self.tokens, self.pos, self.depth = text, tokens, 0, 0

    def peek(self, kind, value) -> bool:
        return self.pos < len(self.tokens) and self.tokens[self.pos][:2] == (kind, value)

    def fail(self, what: str):
        if self.pos < len(self.tokens):
            _, tok, at = self.tokens[self.pos]
            raise ExprError(f"{what} at character {at + 1} of expression {self.text!r}, "
                            f"found {tok!r}")
        raise ExprError(f"expression {self.text!r} ends too early: {what}")

    def conditional(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"expression nests deeper than {MAX_DEPTH}: {self.text[:40]!r}...")
        value = self.either()
        if self.peek("kw", "if"):
            self.pos += 1
            cond = self.either()
            if not self.peek("kw", "else"):
                self.fail("expected 'else' (a conditional is A if COND else B)")
            self.pos += 1
            value = ("if", cond, value, self.conditional())
        self.depth -= 1
        return value

    def either(self):
        value = self.both()
        while self.peek("kw", "or"):
            self.pos += 1
            value = ("or", value, self.both())
        return value

    def both(self):
        value = self.negation()
        while self.peek("kw", "and"):
            self.pos += 1
            value = ("and", value, self.negation())
        return value

    def negation(self):
        if self.peek("kw", "not"):
            self.pos += 1
            return ("not", self.negation())
        return self.comparison()

    def comparison(self):
        value = self.sum()
        for op in _COMPARE:
            if self.peek("op", op):
                self.pos += 1
                value = ("cmp", op, value, self.sum())
                if any(self.peek("op", o) for o in _COMPARE):
                    self.fail("comparisons do not chain; join them with 'and'")
                break
        return value

    def sum(self):
        value = self.product()
        while self.peek("op", "+") or self.peek("op", "-"):
            op = self.tokens[self.pos][1]
            self.pos += 1
            value = ("arith", op, value, self.product())
        return value

    def product(self):
        value = self.unary()
        while any(self.peek("op", o) for o in ("*", "/", "//")):
            op = self.tokens[self.pos][1]
            self.pos += 1
            value = ("arith", op, value, self.unary())
        return value

    def unary(self):
        if self.peek("op", "-"):
            self.pos += 1
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ExprError(f"expression nests deeper than {MAX_DEPTH}: {self.text[:40]!r}")
            value = ("arith", "*", ("lit", -1), self.unary())
            self.depth -= 1
            return value
        return self.atom()

    def atom(self):
        if self.pos >= len(self.tokens):
            self.fail("expected a value")
        kind, tok, _ = self.tokens[self.pos]
        if (kind, tok) == ("op", "("):
            self.pos += 1
            value = self.conditional()
            if not self.peek("op", ")"):
                self.fail("expected ')'")
            self.pos += 1
            return value
        if kind in ("num", "str", "const"):
            self.pos += 1
            return ("lit", tok)
        if kind == "name":
            self.pos += 1
            return ("name", tok)
        self.fail("expected a value")


class _Eval:
    def __init__(self, text, env):
        self.text, self.env = text, env

    def value(self, node):
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "name":
            return self.lookup(node[1])
        if kind == "arith":
            return _arith(node[1], self.value(node[2]), self.value(node[3]), self.text)
        if kind == "cmp":
            return self.compare(node[1], self.value(node[2]), self.value(node[3]))
        if kind == "not":
            return not self.truth(node[1], "not")
        if kind == "and":
            return self.truth(node[1], "and") and self.truth(node[2], "and")
        if kind == "or":
            return self.truth(node[1], "or") or self.truth(node[2], "or")
        # ("if", cond, then, else): only the taken side is evaluated.
        return self.value(node[2]) if self.truth(node[1], "if") else self.value(node[3])

    def truth(self, node, op: str) -> bool:
        value = self.value(node)
        if not isinstance(value, bool):
            raise ExprError(f"'{op}' needs true or false, received {_kind(value)} {value!r} in "
                            f"{self.text!r}")
        return value

    def compare(self, op, a, b):
        if _kind(a) != _kind(b):
            raise ExprError(f"cannot compare {_kind(a)} {a!r} with {_kind(b)} {b!r} in "
                            f"{self.text!r}")
        if op not in ("==", "!=") and _kind(a) != "a number":
            raise ExprError(f"'{op}' compares numbers, received {_kind(a)} {a!r} in "
                            f"{self.text!r}")
        return _COMPARE[op](a, b)

    def lookup(self, ref: str):
        name, _, field = ref.partition(".")
        if name not in self.env:
            from .errors import did_you_mean
            args = [k for k, v in self.env.items() if not isinstance(v, dict)]
            raise ExprError(f"unknown argument ${name} in {self.text!r}; "
                            + did_you_mean(name, args)
                            if args else f"unknown argument ${name} in {self.text!r}: no "
                            "arguments here")
        value = self.env[name]
        if isinstance(value, UnknownValue):
            raise UnknownValueError(f"${ref} is not known here: {value.why}", value.quiet)
        if isinstance(value, dict):
            if not field:
                raise ExprError(f"${name} has fields: " + ", ".join(f"${name}.{k}" for k in value)
                                + f" (in {self.text!r})")
            if field not in value:
                raise ExprError(f"${name} has no field '{field}'; it has "
                                + ", ".join(value) + f" (in {self.text!r})")
            got = value[field]
            if isinstance(got, UnknownValue):
                raise UnknownValueError(f"${ref} is not known here: {got.why}", got.quiet)
            return got
        if field:
            raise ExprError(f"${name} is {_kind(value)}, it has no field '{field}' (in "
                            f"{self.text!r})")
        return value


def _kind(value) -> str:
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def _arith(op, a, b, text):
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        if len(a) + len(b) > MAX_STRING_CHARS:  # checked before the join allocates it
            raise ExprError(f"a string of {len(a) + len(b):,} characters, longer than "
                            f"{MAX_STRING_CHARS:,}, made by expression {text[:60]!r}")
        return a + b
    for v in (a, b):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ExprError(f"arithmetic on a non-number ({v!r}) in {text!r}")
    if op in ("/", "//") and b == 0:
        raise ExprError(f"division by zero in {text!r}")
    result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
              "/": lambda: a / b, "//": lambda: a // b}[op]()
    if not math.isfinite(result):  # NaN from an argument: `$a - $a` with a: .nan
        raise ExprError(f"the result is {result}, not a finite number, in expression "
                        f"{text[:60]!r}")
    if abs(result) > MAX_MAGNITUDE:
        raise ExprError(f"value {result:.3g} is too large (over {MAX_MAGNITUDE:.0e}) in "
                        f"expression {text[:60]!r}")
    return result
