"""The one place where dataset readers check a value taken from a file we did not write.

Every field the COCO, VOC, YOLO and boxes.csv readers use goes through one of these
functions with where it stands (a JSON path such as `instances_train.json: images[3].height`
or a `file:line`), so that each wrong type, huge or non-finite number, empty string and
out-of-range value is refused the same way, with a message saying what was expected and
what was read. A reader turns the FieldError into exit 2 (a broken file) or into a problem
of one example (one bad object), as its format calls for.

Hand-written because the checks are few and the message format is kspec's own.
"""
from __future__ import annotations

import math

from .sources import DataError

MAX_DIGITS = 40   # longer numbers are refused before Python converts them (no 5000 digits)
MAX_SIDE = 65_535  # the largest image side JPEG can store; a bound for declared sizes
MAX_SHOWN = 40


class FieldError(DataError):
    """A field of a dataset file has the wrong type or range; the message says where."""

    def __init__(self, where: str, what: str):
        self.where, self.what = where, what
        super().__init__(f"{where}: {what}")


def shown(value) -> str:
    """A value as the message shows it: short, and never a 5000-digit number in full."""
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int) and len(str(abs(value))) > MAX_DIGITS // 2:
        return f"an integer of {len(str(abs(value)))} digits"
    if isinstance(value, (list, dict)):
        kind = "a list" if isinstance(value, list) else "an object"
        return f"{kind} of {len(value)} item(s)"
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def fail(where: str, expected: str, value) -> FieldError:
    return FieldError(where, f"expected {expected}, received {shown(value)}")


def integer(value, where: str, lo: int | None = None, hi: int | None = None) -> int:
    """An int (not a bool, not a float) in [lo, hi]."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or (lo is not None and value < lo) or (hi is not None and value > hi):
        raise fail(where, _integer_words(lo, hi), value)
    return value


def _integer_words(lo, hi) -> str:
    if lo == 1 and hi is None:
        return "a positive integer"
    if lo is not None and hi is not None:
        return f"an integer from {lo} to {hi}"
    return f"an integer of at least {lo}" if lo is not None else "an integer"


def number(value, where: str, lo: float | None = None, hi: float | None = None) -> float:
    """A finite int or float (not a bool, not NaN) in [lo, hi]."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and isinstance(value, int) and len(str(abs(value))) > MAX_DIGITS:
        ok = False
    if ok:
        value = float(value)
        ok = math.isfinite(value) and (lo is None or value >= lo) and (hi is None or value <= hi)
    if not ok:
        raise fail(where, "a finite number" + _span(lo, hi), value)
    return value


def _span(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f" from {lo:g} to {hi:g}"
    return f" of at least {lo:g}" if lo is not None else ""


def text(value, where: str) -> str:
    """A non-empty string without NUL characters."""
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise fail(where, "a non-empty string", value)
    return value


def sequence(value, where: str, length: int | None = None) -> list:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        raise fail(where, "a list" if length is None else f"a list of {length} items", value)
    return value


def mapping(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise fail(where, "an object", value)
    return value


def side(value, where: str) -> int:
    """An image height or width declared by annotations."""
    return integer(value, where, 1, MAX_SIDE)


def parse_integer(word: str, where: str, lo: int | None = None, hi: int | None = None) -> int:
    """An integer written in a text file (YOLO labels, boxes.csv, VOC XML); the message
    quotes the text as written."""
    word = word.strip()
    digits = word.lstrip("+-")
    ok = digits.isdigit() and digits.isascii() and len(digits) <= MAX_DIGITS
    value = int(word) if ok else None
    if not ok or (lo is not None and value < lo) or (hi is not None and value > hi):
        raise fail(where, _integer_words(lo, hi), word)
    return value


def parse_number(word: str, where: str, lo: float | None = None,
                 hi: float | None = None) -> float:
    """A finite number written in a text file; `nan`, `inf` and 5000 digits are refused."""
    word = word.strip()
    try:
        return number(float(word) if len(word) <= MAX_DIGITS + 10 else word, where, lo, hi)
    except (ValueError, FieldError):
        raise fail(where, "a finite number" + _span(lo, hi), word) from None
