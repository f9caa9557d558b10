"""One trainer (or one export) per run directory: an advisory lock the kernel drops when
its holder dies.

`flock` on RUN_DIR/.lock (training) or RUN_DIR/.export.lock (export), taken without
waiting; the holder's pid is written into the file so a second process can say whom it
met. A lock left by a killed process is no obstacle: the kernel released it with the
process.
"""
from __future__ import annotations

import errno
import fcntl
import os

from .ownership import READ_ONLY, TRAINING_FIX, TRAINING_WRITES, RunDirRefused, not_writable

# Who holds each lock, and what to tell the one who meets it.
_KINDS = {
    ".lock": ("trainer", "wait for it to finish, or train into another --out",
              TRAINING_WRITES, TRAINING_FIX),
    ".export.lock": ("export", "wait for it to finish",
                     "kspec export takes its lock and writes RUN_DIR/exports/ there",
                     "Make it writable, or copy the run directory and export the copy"),
}


class Busy(Exception):
    """Another live process holds the run directory (exit 2)."""


class RunLock:
    def __init__(self, run_dir: str, name: str = ".lock"):
        self.path = os.path.join(run_dir, name)
        self.holder, self.advice, self.writes, self.fix = _KINDS[name]
        self._fd = None

    def acquire(self) -> "RunLock":
        folder = os.path.dirname(self.path)
        try:
            os.makedirs(folder, exist_ok=True)
            # Never through a link: a run directory someone else made could point its lock
            # at a file of the user's, which the truncate below would empty.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise RunDirRefused(f"{self.path} is a link, not kspec's lock file; remove "
                                    "it (kspec makes a new one)") from None
            if exc.errno not in READ_ONLY:
                raise
            raise not_writable(folder, exc, self.writes, self.fix) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise Busy(f"{folder} is in use by another {self.holder} (pid {holder}); "
                       f"{self.advice}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None
