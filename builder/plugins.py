"""Custom layers come only from plugin modules the user names explicitly (`--plugin`).

A plugin is an importable module that calls `builder.register_layer`. A spec
never names code; only the command line or the Python API does.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import sys

_loaded: dict = {}  # module name -> the folder it was imported from (None: sys.path)


class PluginError(Exception):
    """A plugin module that cannot be imported."""


@contextlib.contextmanager
def _also_searching(folders):
    """Puts folders at the *end* of sys.path for one import: a stray `tensorflow.py` in
    the working directory never shadows an installed package."""
    added = [f for f in folders if f and f not in sys.path]
    sys.path.extend(added)
    try:
        yield
    finally:
        for folder in added:
            sys.path.remove(folder)


def load_plugins(names, roots=()) -> list[dict]:
    """Imports each named module; returns [{"module", "root"}] to record in a run.

    Args:
        names: module names (`my_layers`, `pkg.layers`).
        roots: folders to search besides sys.path; default the working directory.
            A run directory records where its plugins were found, so `kspec evaluate`
            from elsewhere finds them again.
    """
    records = []
    for name in names:
        if name not in _loaded:
            with _also_searching(list(roots) + [os.getcwd()]):
                try:
                    module = importlib.import_module(name)
                except ImportError as exc:
                    raise PluginError(f"cannot import plugin module {name!r}: {exc}") from None
            _loaded[name] = _root_of(module, name)
        records.append({"module": name, "root": _loaded[name]})
    return records


def _root_of(module, name: str) -> str | None:
    """The folder from which `name` imports (for `a.b`, the folder holding `a/`)."""
    path = getattr(module, "__file__", None)
    if not path:
        return None
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.basename(path) == "__init__.py":
        folder = os.path.dirname(folder)
    for _ in range(name.count(".")):
        folder = os.path.dirname(folder)
    return folder
