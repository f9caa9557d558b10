"""Crash-safe writes: a temporary name in the same folder, then an atomic rename."""
from __future__ import annotations

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_path(target: str, suffix: str = ""):
    """Yields a temporary path beside `target`; renamed onto it only if the block succeeds.

    On any failure the temporary is removed and the previous `target` is untouched.
    """
    folder = os.path.dirname(os.path.abspath(target)) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=f".tmp{suffix}",
                               dir=folder)
    os.close(fd)
    os.unlink(tmp)  # writers that refuse an existing path (Keras, SavedModel) create it
    try:
        yield tmp
        if os.path.isdir(tmp):
            _replace_dir(tmp, target)
        else:
            os.replace(tmp, target)
    finally:
        if os.path.isdir(tmp):
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.exists(tmp):
            os.unlink(tmp)


def _replace_dir(tmp: str, target: str) -> None:
    """Directories cannot be renamed over: move the old one aside first, then drop it."""
    import shutil
    old = None
    if os.path.exists(target):
        old = target + ".old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(tmp, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def write_text(target: str, text: str) -> None:
    with atomic_path(target) as tmp:
        with open(tmp, "w") as fh:
            fh.write(text)
