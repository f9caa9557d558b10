"""What a person sees: kspec's own lines. TensorFlow's and TFDS' log lines go to a file.

TensorFlow's C++ runtime writes to file descriptor 2 early and regardless of
TF_CPP_MIN_LOG_LEVEL (absl's "before InitializeLog" banner, cuInit failures, oneDNN
notes), and the converter and TFDS log through Python's `logging` and `warnings`. An
environment variable cannot silence all of that, so descriptor 2 is pointed at a log
file while Python's `sys.stderr` keeps the terminal: kspec's messages and tracebacks
still reach the person, the libraries' lines land in the log. A command that knows
its run directory calls `keep_log_in` and the log ends up in `RUN_DIR/logs/kspec.log`;
`--verbose` (or KSPEC_VERBOSE=1) leaves everything on the terminal.
"""
from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
import time

_state: dict = {}
_run: dict = {}  # the run directory a command works in, once known


def quiet_libraries(verbose: bool = False) -> None:
    """Sends native and library logging to a temporary file; call before importing TF."""
    if verbose or os.environ.get("KSPEC_VERBOSE") or _state:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    fd, path = tempfile.mkstemp(prefix="kspec-", suffix=".log")
    sys.stderr.flush()
    terminal = os.dup(2)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stderr = open(terminal, "w", buffering=1, encoding="utf-8", errors="replace")
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    logging.getLogger().addHandler(handler)  # before anyone's basicConfig, which then stays off
    logging.captureWarnings(True)
    _state.update(path=path, folder=None, handler=handler, started=time.strftime("%H:%M:%S"))
    atexit.register(_finish)


def keep_log_in(run_dir: str) -> None:
    """The libraries' log of this command is appended to RUN_DIR/logs/kspec.log at exit."""
    _run["folder"] = os.path.join(run_dir, "logs")
    if _state:
        _state["folder"] = _run["folder"]


def record(text: str) -> None:
    """Keeps one of kspec's own warnings in the log: with the libraries' lines when they
    are captured, else (under --verbose) appended to RUN_DIR/logs/kspec.log directly."""
    line = f"WARNING:kspec:{text}\n"
    try:
        if _state:
            _state["handler"].stream.write(line)
            _state["handler"].flush()
        elif _run.get("folder") and os.path.isdir(_run["folder"]):
            with open(os.path.join(_run["folder"], "kspec.log"), "a", encoding="utf-8") as fh:
                fh.write(line)
    except (OSError, ValueError):
        pass  # the log is a convenience; the person has seen the line


def log_path() -> str | None:
    """Where the libraries' lines go (for "details in ..." messages), or None if shown."""
    if not _state:
        return None
    if _state["folder"]:
        return os.path.join(_state["folder"], "kspec.log")
    return _state["path"]


def failed() -> None:
    """After an unexpected error: keep the log and say where it is."""
    if _state:
        _state["keep"] = True
        sys.stderr.write(f"kspec: the libraries' log of this command is in {log_path()}\n")


def _finish() -> None:
    path, folder = _state["path"], _state["folder"]
    _state["handler"].close()
    try:
        if folder and os.path.getsize(path):
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "kspec.log"), "ab") as out, open(path, "rb") as log:
                out.write(f"== {' '.join(sys.argv)} (started {_state['started']})\n".encode())
                shutil.copyfileobj(log, out)
        if folder or not _state.get("keep"):
            os.unlink(path)
    except OSError:
        pass  # the log is a convenience: never fail a finished command over it
