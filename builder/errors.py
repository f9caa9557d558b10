"""The one error type for bad specs: file, line, column, spec path, message, hint.

Every check in the builder reports through `SpecError`; several are gathered
into `SpecErrors` so a user sees all mistakes at once, each on one line:
``FILE:LINE:COL: PATH: message``.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

# The exit code of every kspec command for bad input (a spec, an option, data, a run
# directory): the person has something to change. Defined here, the lowest home, so
# that every command uses this one value.
EXIT_BAD_INPUT = 2


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


MAX_SHOWN = 50  # errors printed; the rest are counted ("and 12 more")
MAX_KEPT = 1000  # distinct errors kept in memory; a million expansions stay bounded
MAX_USES_SHOWN = 3  # block use sites named after an error inside a block
MAX_USES_KEPT = 100


class SpecError(Exception):
    """One mistake in a spec, with where it is and what to change.

    `repeats` counts the expansions (repeat, blocks) that produced the same mistake
    at the same place: it is printed once, with "(in N expansions)".
    """

    def __init__(self, where: Where, message: str, hint: str = "", repeats: int = 1,
                 uses: tuple = ()):
        self.where = where
        self.message = message
        self.hint = hint
        self.repeats = repeats
        self.uses = uses  # where the block holding the mistake was used, if it is in one
        super().__init__(self.format())

    def format(self) -> str:
        w = self.where
        # Line 0: not a place in a file (an option such as `--init`, a mapping kspec made).
        place = f"{w.file}:{w.line}:{w.col}" if w.line else w.file
        text = f"{place}: {w.path or '<top>'}: {self.message}"
        text = f"{text} ({self.hint})" if self.hint else text
        if self.uses:
            more = len(self.uses) - MAX_USES_SHOWN
            text += f" ({'; '.join(self.uses[:MAX_USES_SHOWN])}" + (
                f"; and {more} more uses)" if more > 0 else ")")
        text = f"{text} (in {self.repeats} expansions)" if self.repeats > 1 else text
        return text if text.isprintable() else _escaped(text)


def _escaped(text: str, keep: str = "") -> str:
    """Control characters (a newline, a terminal escape) and lone surrogates a spec's keys
    may hold, written as escapes: each error stays one line, printable on any terminal.
    Characters in `keep` (a message's own line breaks) stay as they are."""
    return "".join(ch if ch.isprintable() or ch in keep else repr(ch)[1:-1] for ch in text)


def printable(value, keep: str = ""):
    """`value` with every string in it (through lists, tuples and dicts) escaped as
    `_escaped` does: for text that came from a file (a class name, a file name) before
    it reaches a terminal, where an escape sequence would act and a newline forge a line."""
    if isinstance(value, str):
        return value if value.isprintable() else _escaped(value, keep)
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(printable(v) for v in value)
    return value


class SpecErrors(Exception):
    """All the mistakes found in one pass; raised once, after checking everything.

    The message shows the first MAX_SHOWN in file order, then how many more there are.
    """

    def __init__(self, errors: list[SpecError], more: int = 0):
        self.errors = sorted(errors, key=lambda e: (e.where.file, e.where.line, e.where.col))
        self.more = more + max(len(self.errors) - MAX_SHOWN, 0)
        lines = [e.format() for e in self.errors[:MAX_SHOWN]]
        if self.more:
            lines.append(f"... and {self.more} more errors (fix the ones above first)")
        super().__init__("\n".join(lines))


class ErrorSink:
    """Collects errors during a pass so validation can go on after the first one.

    The same message at the same place (one spec line, many expansions) is kept
    once and counted; past MAX_KEPT distinct errors only a count grows.
    """

    def __init__(self) -> None:
        self._seen: dict = {}
        self._uses: dict = {}  # key -> distinct block use sites, in first-seen order
        self.count = 0  # every add, duplicates included: "did this step report anything?"
        self.dropped = 0
        # Set while a block is expanded ("in block X used at line N"): an error inside a
        # block then also says where the block was used.
        self.context = ""

    @property
    def errors(self) -> list[SpecError]:
        return [SpecError(e.where, e.message, e.hint, n, tuple(self._uses.get(key, ())))
                for key, (e, n) in self._seen.items()]

    def add(self, where: Where, message: str, hint: str = "") -> None:
        self.count += 1
        key = (where.file, where.line, where.col, message, hint)
        if key in self._seen:
            first, n = self._seen[key]
            self._seen[key] = (first, n + 1)
        elif len(self._seen) < MAX_KEPT:
            self._seen[key] = (SpecError(where, message, hint), 1)
        else:
            self.dropped += 1
            return
        uses = self._uses.setdefault(key, [])
        if self.context and self.context not in uses and len(uses) < MAX_USES_KEPT:
            uses.append(self.context)

    def skip(self) -> None:
        """Counts a failed step whose cause is an error already reported (a value that
        cannot be known after it), without printing it again."""
        self.count += 1

    def raise_if_any(self) -> None:
        if self._seen:
            raise SpecErrors(self.errors, self.dropped)


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
    if isinstance(value, str) and len(value) > 60:
        return f"str {value[:40]!r}... ({len(value):,} characters)"
    return f"{type(value).__name__} {value!r}"


def use_sites(uses: list) -> str:
    """`in block bottleneck used at line 33, within stage used at line 44`: where an
    error inside a block came from (innermost use first)."""
    if not uses:
        return ""
    (inner, line), *outer = reversed(uses)
    text = f"in block {inner} used at line {line}"
    return text + "".join(f", within {b} used at line {n}" for b, n in outer)
