"""Custom layers come only from plugin modules the user names explicitly (`--plugin`).

A plugin is an importable module that calls `builder.register_layer`. A spec
never names code; only the command line or the Python API does.
"""
from __future__ import annotations

import importlib

_loaded: set = set()


class PluginError(Exception):
    """A plugin module that cannot be imported."""


def load_plugins(names) -> None:
    for name in names:
        if name in _loaded:
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise PluginError(f"cannot import plugin module {name!r}: {exc}") from None
        _loaded.add(name)
