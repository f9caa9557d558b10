"""One trainer per run directory: an advisory lock the kernel drops when its holder dies.

`flock` on RUN_DIR/.lock, taken without waiting; the holder's pid is written into the
file so a second trainer can say whom it met. A lock left by a killed process is no
obstacle: the kernel released it with the process.
"""
from __future__ import annotations

import fcntl
import os


class Busy(Exception):
    """Another live process holds the run directory (exit 2)."""


class RunLock:
    def __init__(self, run_dir: str):
        self.path = os.path.join(run_dir, ".lock")
        self._fd = None

    def acquire(self) -> "RunLock":
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise Busy(f"{os.path.dirname(self.path)} is in use by another trainer (pid "
                       f"{holder}); wait for it to finish, or train into another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None
