"""Custom layers come only from plugin modules the user names explicitly (`--plugin`).

A plugin is an importable module that calls `builder.register_layer`. A spec
never names code; only the command line or the Python API does.
"""
from __future__ import annotations

import importlib
import os
import sys

_loaded: set = set()


class PluginError(Exception):
    """A plugin module that cannot be imported."""


def load_plugins(names) -> None:
    """Imports each named module (from the working directory or the Python path)."""
    if names and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # console scripts leave the working directory out
    for name in names:
        if name in _loaded:
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise PluginError(f"cannot import plugin module {name!r}: {exc}") from None
        _loaded.add(name)
