"""File names kspec makes from a spec's `name:` (a run folder, a picture): one sanitiser.

A spec's name is written by whoever wrote the spec. `name: ../../x/pwned` or `name: /etc`
must not put a file anywhere but where the command's default goes, so every default
file name derived from a spec passes through `file_stem`.
"""
from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_STEM_CHARS = 100  # file systems take 255 bytes; room is left for suffixes


def file_stem(name: str, fallback: str) -> str:
    """`name` reduced to [A-Za-z0-9._-] (runs of others become `_`), without leading dots
    (`..`, hidden files) or dashes (read as options), at most MAX_STEM_CHARS long;
    `fallback` when nothing is left."""
    safe = _UNSAFE.sub("_", name)[:MAX_STEM_CHARS]
    return safe.strip(".").lstrip("-") or fallback
