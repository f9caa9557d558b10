"""Custom layers come only from plugin modules the user names explicitly (`--plugin`).

A plugin is an importable module (`my_layers`, `pkg.layers`) or a Python file
(`path/to/my_layers.py`) that calls `builder.register_layer`. A spec never names code;
only the command line or the Python API does. A run directory records which plugins
made it, but that record is a fact, not a permission: `required_by_run` says which
recorded modules the user has not named, and the caller refuses the run until they do.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
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


def _is_file_name(name: str) -> bool:
    return name.endswith(".py") or os.sep in name or "/" in name


def _import_file(path: str):
    """Imports `path/to/mod.py` as module `mod` (its folder searched last, for its own
    imports of modules beside it)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if not os.path.isfile(path):
        raise PluginError(f"plugin file {path!r} does not exist")
    if not path.endswith(".py") or not stem.isidentifier():
        raise PluginError(f"plugin file {path!r} is not a Python file with a module name "
                          "(name it like my_layers.py)")
    if stem in sys.modules and stem not in _loaded:
        raise PluginError(f"plugin file {path!r} would shadow the module {stem!r} that is "
                          "already imported; rename the file")
    spec = importlib.util.spec_from_file_location(stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[stem] = module
    try:
        with _also_searching([os.path.dirname(os.path.abspath(path))]):
            spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[stem]
        raise
    return stem, module


def load_plugins(names, roots=()) -> list[dict]:
    """Imports each named module or file; returns [{"module", "root"}] to record in a run.

    Args:
        names: module names (`my_layers`, `pkg.layers`) or Python files (`x/my_layers.py`),
            as the user wrote them.
        roots: folders to search besides sys.path; default the working directory.
    """
    records = []
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise PluginError("--plugin needs a module name (my_layers) or a Python file "
                              "(path/to/my_layers.py)")
        if _is_file_name(name):
            try:
                module_name, module = _import_file(name)
            except ImportError as exc:
                raise PluginError(f"cannot import plugin file {name!r}: {exc}") from None
        elif name not in _loaded:
            with _also_searching(list(roots) + [os.getcwd()]):
                try:
                    module = importlib.import_module(name)
                except ImportError as exc:
                    raise PluginError(f"cannot import plugin module {name!r}: {exc}; give a "
                                      "module name importable from the working directory "
                                      "or PYTHONPATH, or the path of its .py file") from None
            module_name = name
        else:
            module_name, module = name, sys.modules[name]
        _loaded[module_name] = _root_of(module, module_name)
        records.append({"module": module_name, "root": _loaded[module_name]})
    return records


def required_by_run(recorded) -> list[str]:
    """Hints for each plugin a run directory records that the user has not imported.

    `recorded` is run.json's `plugins` list, read from a file anyone may have written:
    entries of the wrong shape are named as they are, never imported.
    """
    missing = []
    for entry in recorded if isinstance(recorded, list) else [recorded]:
        module = entry.get("module") if isinstance(entry, dict) else None
        if not isinstance(module, str) or not module:
            missing.append(f"an unreadable plugin entry {str(entry)[:80]!r}")
        elif module not in _loaded:
            root = entry.get("root")
            where = f" (it was imported from {str(root)[:200]})" if isinstance(root, str) else ""
            missing.append(f"--plugin {module}{where}")
    return missing


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
