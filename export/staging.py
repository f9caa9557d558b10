"""Where an export writes before anything is placed: a folder of its own, marked and locked.

Each export writes its artifacts, the manifest and the samples its checks run on inside
`.kspec-export-XXXXXXXX/` beside their destination, and renames each artifact into place
only once it is verified. The folder holds a marker, created first, on which the export
keeps an flock while it runs. A later export removes exactly the folders of exports that
were stopped (the marker is there and no live process holds it) and nothing else: never
a name that merely looks like a temporary (`photos.old/`, `.notes.txt.abcd1234.tmp`),
never the folder of an export running at the same time.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import stat
import tempfile

PREFIX = ".kspec-export-"
MARKER = ".kspec-export"
_MARK = b"an export's own folder; kspec export removes it when the export has stopped\n"


class Staging:
    """A staging folder in `folder`; use as a context manager (removed on exit)."""

    def __init__(self, folder: str):
        self.folder = folder
        self.path = tempfile.mkdtemp(prefix=PREFIX, dir=folder)
        fd = os.open(os.path.join(self.path, MARKER), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held until close(): tells others we are alive
        os.write(fd, _MARK)
        self._fd = fd

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def temp(self, dest: str) -> str:
        """Where `dest` is written first: its own name (writers judge by the suffix)."""
        return os.path.join(self.path, os.path.basename(dest))

    def scratch(self, name: str) -> str:
        return os.path.join(self.path, name)

    def place(self, tmp: str, dest: str) -> None:
        """Renames `tmp` onto `dest`; a folder that was there is moved into this staging
        folder first (a folder cannot be renamed over) and goes with it."""
        if os.path.isdir(tmp) and os.path.lexists(dest):
            os.replace(dest, os.path.join(self.path, f".previous.{os.path.basename(dest)}"))
        os.replace(tmp, dest)

    def discard(self, tmp: str) -> None:
        if os.path.isdir(tmp) and not os.path.islink(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.lexists(tmp):
            os.unlink(tmp)

    def close(self) -> None:
        if self._fd is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            os.close(self._fd)
            self._fd = None


def clean_stopped(folder: str) -> list[str]:
    """Removes the staging folders of exports that were stopped; returns their names."""
    removed = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        path = os.path.join(folder, name)
        if name.startswith(PREFIX) and _stopped(path):
            removed.append(name)
    return removed


def _stopped(path: str) -> bool:
    """Removes `path` if it is a staging folder whose export is gone; whether it did."""
    if os.path.islink(path) or not os.path.isdir(path):
        return False
    try:
        fd = os.open(os.path.join(path, MARKER), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False  # no marker: not provably an export's folder
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode) or os.pread(fd, len(_MARK) + 1, 0) != _MARK:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its export is running
        shutil.rmtree(path)  # under its flock: no other export removes it meanwhile
        return True
    finally:
        os.close(fd)
