"""Crash-safe writes: a temporary name in the same folder, then an atomic rename; and how
to tell a full disk from other write errors."""
from __future__ import annotations

import contextlib
import errno
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
    """Directories cannot be renamed over: move the old one aside first, then drop it.

    Aside means into a fresh folder of this call's own, never `TARGET.old`: that name
    may be someone's folder."""
    import shutil
    aside = None
    if os.path.exists(target):
        aside = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.", suffix=".old",
                                 dir=os.path.dirname(os.path.abspath(target)))
        os.replace(target, os.path.join(aside, "previous"))
    os.replace(tmp, target)
    if aside:
        shutil.rmtree(aside, ignore_errors=True)


DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
DISK_FULL_WORDS = ("no space left", "file too large", "quota exceeded")


def is_disk_full(exc: BaseException) -> bool:
    """Whether a write failed for want of space (a full disk, a quota, a file-size limit),
    also when a library reports it only in words."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return True
    text = str(exc).lower()
    return any(w in text for w in DISK_FULL_WORDS)


def write_text(target: str, text: str) -> None:
    with atomic_path(target) as tmp:
        with open(tmp, "w") as fh:
            fh.write(text)
