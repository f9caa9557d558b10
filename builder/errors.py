"""The one error type for bad specs: file, line, column, spec path, message, hint.

Every check in the builder reports through `SpecError`; several are gathered
into `SpecErrors` so a user sees all mistakes at once, each on one line:
``FILE:LINE:COL: PATH: message``.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Where:
    """A place in a spec file: the file, a 1-based line and column, a spec path."""

    file: str = "<spec>"
    line: int = 0
    col: int = 0
    path: str = ""

    def at(self, path: str, line: int | None = None, col: int | None = None) -> "Where":
        return Where(self.file, self.line if line is None else line,
                     self.col if col is None else col, path)


class SpecError(Exception):
    """One mistake in a spec, with where it is and what to change."""

    def __init__(self, where: Where, message: str, hint: str = ""):
        self.where = where
        self.message = message
        self.hint = hint
        super().__init__(self.format())

    def format(self) -> str:
        w = self.where
        text = f"{w.file}:{w.line}:{w.col}: {w.path or '<top>'}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class SpecErrors(Exception):
    """All the mistakes found in one pass; raised once, after checking everything."""

    def __init__(self, errors: list[SpecError]):
        self.errors = sorted(errors, key=lambda e: (e.where.file, e.where.line, e.where.col))
        super().__init__("\n".join(e.format() for e in self.errors))


class ErrorSink:
    """Collects errors during a pass so validation can go on after the first one."""

    def __init__(self) -> None:
        self.errors: list[SpecError] = []

    def add(self, where: Where, message: str, hint: str = "") -> None:
        self.errors.append(SpecError(where, message, hint))

    def raise_if_any(self) -> None:
        if self.errors:
            raise SpecErrors(self.errors)


def did_you_mean(name: str, choices) -> str:
    """A hint naming the closest valid choice, or listing the valid ones."""
    choices = sorted(str(c) for c in choices)
    close = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    shown = ", ".join(choices[:30]) + (", ..." if len(choices) > 30 else "")
    return f"expected one of: {shown}"


def type_name(value) -> str:
    """How a received value is named in messages: `bool True`, `str '1x'`."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        text = repr(list(value))
        return f"list {text}" if len(text) <= 40 else f"a list of {len(value)} items"
    return f"{type(value).__name__} {value!r}"
