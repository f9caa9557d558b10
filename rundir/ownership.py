"""Which folders kspec may write a run into, and how it knows a run directory of its own.

A run directory holds `.kspec-run`, the first thing kspec writes there (before the lock,
the spec, a checkpoint or run.json), so a run whose first training was killed at any
moment is still kspec's own and resumes or restarts. A folder without it is someone
else's: kspec trains into it only when it is empty, and otherwise refuses (exit 2)
before it writes or removes anything. Runs made before the marker existed are
recognised by their run.json (and get the marker).

The marker is created with O_EXCL in one write, never through a temporary name, so a
second worker of a cluster that looks at the folder meanwhile sees either no entry or
the marker, never a stranger's file.
"""
from __future__ import annotations

import errno
import os
import stat

MARKER = ".kspec-run"
# What stops a write that a person can fix by making the folder writable.
READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)


TRAINING_WRITES = "training writes its checkpoints, metrics and log there"
TRAINING_FIX = "Make it writable, or copy the run and train the copy with --out COPY"


class RunDirRefused(ValueError):
    """A folder kspec must not write a run (or an export) into; the message says why and
    what to name instead (exit 2)."""


def is_root(path: str) -> bool:
    return os.path.realpath(path) == os.path.realpath(os.sep)


def has_marker(path: str) -> bool:
    """Whether `path` holds the marker: a regular file (not a link) kspec created."""
    try:
        return stat.S_ISREG(os.lstat(os.path.join(path, MARKER)).st_mode)
    except OSError:
        return False


def _made_before_the_marker(path: str) -> bool:
    """A run.json of kspec's: a run trained before runs were marked."""
    from builder.untrusted import UntrustedFileError, read_json
    try:
        info = read_json(os.path.join(path, "run.json"), 4 << 20, "run.json")
    except UntrustedFileError:
        return False
    return isinstance(info, dict) and {"model_sha256", "versions"} <= set(info)


def is_run_dir(path: str) -> bool:
    """Whether kspec can show that it made `path` a run directory."""
    return os.path.isdir(path) and (has_marker(path) or _made_before_the_marker(path))


def not_writable(path: str, exc: OSError, doing: str, advice: str) -> RunDirRefused:
    return RunDirRefused(f"{path} is read-only ({exc.strerror}): {doing}. {advice}")


def _refuse_foreign(path: str, names: list) -> RunDirRefused:
    shown = ", ".join(n + ("/" if os.path.isdir(os.path.join(path, n)) else "")
                      for n in names[:4]) + (", ..." if len(names) > 4 else "")
    return RunDirRefused(
        f"--out {path} is a folder that is not a kspec run directory (it holds {shown}, and "
        f"no {MARKER} or run.json of a kspec run): kspec trains only into a new or empty "
        "folder or a run directory of its own, and leaves other folders as they are. "
        "Name a new folder with --out")


def check_run_dir_path(path: str) -> None:
    """The checks on `--out` that need no write: the root and an existing file."""
    if is_root(path):
        raise RunDirRefused(f"--out {path} is the file-system root; name a folder of its own "
                            "for the run, for example --out runs/NAME")
    if os.path.lexists(path) and not os.path.isdir(path):
        raise RunDirRefused(f"--out {path} is a file, not a folder; --out names the run "
                            "directory: a new or empty folder, or an earlier run's")


def claim_run_dir(path: str) -> None:
    """Makes sure `path` is a run directory of kspec's: creates it (and its parents) when
    new, marks it when empty, and refuses a folder that holds anything else."""
    check_run_dir_path(path)
    if os.path.isdir(path):
        if has_marker(path):
            return
        names = sorted(os.listdir(path))
        if names and not _made_before_the_marker(path):
            raise _refuse_foreign(path, names)
    else:
        try:
            os.makedirs(path, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise RunDirRefused(f"--out {path}: a part of that path is a file, not a folder; "
                                "name a folder for the run") from None
        except OSError as exc:
            raise _cannot_write(path, exc) from None
    try:
        fd = os.open(os.path.join(path, MARKER), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return  # another worker of the cluster marked it a moment ago
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        os.write(fd, b"a kspec run directory: kspec train and export write here\n")
    finally:
        os.close(fd)


def _cannot_write(path: str, exc: OSError) -> RunDirRefused:
    if exc.errno in READ_ONLY:
        return not_writable(path, exc, TRAINING_WRITES, TRAINING_FIX)
    return RunDirRefused(f"--out {path}: cannot write there ({exc.strerror})")
