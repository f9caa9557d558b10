"""The run directory: spec.yaml, run.json, metrics.jsonl, curves.png, model.keras, logs/."""
from __future__ import annotations

import json
import os
import platform
import re
import sys
import time

from .atomic import atomic_path, write_text
from .ownership import claim_run_dir


def versions() -> dict:
    """The versions a run or an export was made with."""
    import keras
    import tensorflow as tf
    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__}


class RunJsonError(ValueError):
    """run.json exists but cannot be read (exit 2: the run's guards depend on it)."""


RUN_JSON_LIMIT = 4 << 20  # ours are a few kilobytes; a class list of 100k names fits
METRICS_LIMIT = 256 << 20  # a row per epoch: hundreds of thousands of epochs fit

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_STRINGS = "a list of strings"
# The fields that commands act on, and what each must be. Anyone may have written the
# file, so each is checked here, once, before any command trusts it.
RUN_JSON_FIELDS = {
    "seed": int, "global_batch": int, "steps_per_epoch": int, "replicas": int,
    "deterministic": bool, "strategy": str, "precision": str, "dataset": str,
    "data_dir": (str, type(None)), "class_names": _STRINGS, "plugins": list,
    "spec_sha256": _HEX64, "model_sha256": _HEX64, "init": (dict, type(None)),
}


def _kind(value) -> str:
    return "null" if value is None else type(value).__name__


def _field_problem(name: str, value):
    want = RUN_JSON_FIELDS[name]
    if want is _STRINGS:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"expected {_STRINGS}, received {_kind(value)} {str(value)[:60]}"
    elif isinstance(want, re.Pattern):
        if not isinstance(value, str) or not want.match(value):
            return f"expected a sha256 (64 hex digits), received {str(value)[:80]!r}"
    elif isinstance(value, bool) and want is int or not isinstance(value, want):
        names = " or ".join(_kind(t()) if t is not type(None) else "null"
                            for t in (want if isinstance(want, tuple) else (want,)))
        return f"expected {names}, received {_kind(value)} {str(value)[:60]}"
    return None


def read_run_json(path: str) -> dict:
    """RUN_DIR/run.json, its fields checked; {} when there is none yet."""
    from builder.untrusted import UntrustedFileError, read_json
    file = os.path.join(path, "run.json")
    if not os.path.lexists(file):
        return {}
    try:
        info = read_json(file, RUN_JSON_LIMIT, "run.json")
    except UntrustedFileError as exc:
        reason = str(exc)[len(file):].lstrip(": ") if str(exc).startswith(file) else str(exc)
        raise RunJsonError(f"{file} is unreadable (truncated or edited: "
                           f"{'at ' if reason[:1].isdigit() else ''}{reason}); the run cannot "
                           "be checked against it. Restore it, or start over with --restart "
                           "or another --out") from None
    if not isinstance(info, dict):
        raise RunJsonError(f"{file} is unreadable (truncated or edited: not a JSON object); "
                           "the run cannot be checked against it. Restore it, or start over "
                           "with --restart or another --out")
    for name in RUN_JSON_FIELDS:
        problem = name in info and _field_problem(name, info[name])
        if problem:
            raise RunJsonError(f"{file}: {name}: {problem} (edited?); restore it, or start "
                               "over with --restart or another --out")
    return info


# What each entry of a run directory must be, where it exists.
ENTRY_KINDS = {"spec.yaml": "file", "run.json": "file", "metrics.jsonl": "file",
               ".lock": "file", ".export.lock": "file", ".kspec-run": "file",
               "model.keras": "file", "checkpoints": "folder", "logs": "folder",
               "exports": "folder", "checkpoints/last": "folder",
               "checkpoints/best": "folder", "logs/kspec.log": "file"}


def check_entries(path: str) -> None:
    """RunJsonError when an entry of the run directory is of the wrong kind (a folder
    named `.lock`, a file named `logs`): said at once, not as a traceback mid-run. A link
    is refused too: kspec makes none, and writing through one (a `metrics.jsonl` pointing
    at a file of the user's) would write outside the run directory."""
    for name, kind in ENTRY_KINDS.items():
        entry = os.path.join(path, name)
        if not os.path.lexists(entry):
            continue
        if os.path.islink(entry):
            raise RunJsonError(f"{entry} is a link; a run directory of kspec's holds its own "
                               f"{kind} there, never a link. Remove the link, or use "
                               "another --out")
        is_folder = os.path.isdir(entry)
        if (kind == "folder") != is_folder or (kind == "file" and not os.path.isfile(entry)):
            found = "a folder" if is_folder else "not a regular file"
            raise RunJsonError(f"{entry} is {found}; kspec keeps a {kind} there. Move it "
                               "away, or use another --out")


def _row_problem(row) -> str | None:
    """A metrics row is ours when it is an object with a whole epoch number >= 1."""
    if not isinstance(row, dict):
        return "not an object"
    epoch = row.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        return f"its epoch is {epoch!r}, not a whole number >= 1"
    return None


def read_metrics(path: str) -> tuple[list, list]:
    """The rows of RUN_DIR/metrics.jsonl, and notes on lines that are not rows of ours (a
    torn last line after a crash or a full disk is skipped, never an error). A file over
    METRICS_LIMIT was not written by kspec: RunJsonError before anything is read."""
    from builder.untrusted import UntrustedFileError, parse_json, read_bytes
    file = os.path.join(path, "metrics.jsonl")
    if not os.path.lexists(file):
        return [], []
    try:
        data = read_bytes(file, METRICS_LIMIT, "metrics file")
    except UntrustedFileError as exc:
        raise RunJsonError(f"{exc}; move it away, or start over with --restart or another "
                           "--out") from None
    rows, notes = [], []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            row = parse_json(line.decode("utf-8"), file, constants=True)
            problem = _row_problem(row)
        except (UnicodeDecodeError, ValueError):
            problem = "torn or garbled"
        if problem:
            notes.append(f"{file}:{number}: a line that is not a metrics row was dropped "
                         f"({problem})")
        else:
            rows.append(row)
    return rows, notes


def default_run_dir(name: str) -> str:
    """`runs/<name>` with the name reduced to [A-Za-z0-9._-]: a spec's `name: ".."` or
    `name: a/b` must not put a run anywhere but in its own folder under runs/."""
    from builder.names import file_stem  # the one sanitiser of names taken from a spec
    return os.path.join("runs", file_stem(name, "run"))


class RunDir:
    def __init__(self, path: str, chief: bool = True):
        self.path = path
        self.chief = chief
        # Every worker checks: a folder that is not kspec's is refused before any write.
        claim_run_dir(path)

    def file(self, *parts) -> str:
        return os.path.join(self.path, *parts)

    @property
    def checkpoints(self) -> str:
        return self.file("checkpoints")

    def write_spec(self, spec) -> None:
        if self.chief:
            write_text(self.file("spec.yaml"), f"# sha256: {spec.sha256}\n" + spec.to_yaml())

    def write_run_json(self, info: dict) -> None:
        info = {"versions": versions(), "command": " ".join(sys.argv),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S"), **info}
        if self.chief:
            write_text(self.file("run.json"), json.dumps(info, indent=1) + "\n")

    def read_run_json(self) -> dict:
        """The recorded run info; {} when there is none yet. An unreadable one is an error,
        not an empty record: the guards that compare a resume with the run rely on it."""
        return read_run_json(self.path)

    def append_metrics(self, row: dict) -> None:
        """One whole line in one write, flushed to disk: a kill leaves it whole or absent."""
        if not self.chief:
            return
        fd = os.open(self.file("metrics.jsonl"),
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            os.write(fd, (json.dumps(row) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def read_metrics(self) -> list:
        return read_metrics(self.path)[0]

    def repair_metrics(self, epochs_done: int, last_row: str) -> list[str]:
        """On resume: rows of epochs the checkpoint does not include are dropped, a torn
        last line is removed, and the last finished epoch's row is restored from the
        checkpoint if a kill came between its save and the row. Returns notes."""
        rows, notes = read_metrics(self.path)
        kept = [r for r in rows if r.get("epoch", 0) <= epochs_done]
        if len(kept) < len(rows):
            notes.append(f"dropped {len(rows) - len(kept)} metrics row(s) of epochs after the "
                         "checkpoint")
        if epochs_done and last_row and not any(r.get("epoch") == epochs_done for r in kept):
            kept.append(json.loads(last_row))
            notes.append(f"restored epoch {epochs_done}'s metrics row from the checkpoint")
        if self.chief and (notes or not os.path.exists(self.file("metrics.jsonl"))):
            write_text(self.file("metrics.jsonl"), "".join(json.dumps(r) + "\n" for r in kept))
        return notes

    def save_model(self, model) -> None:
        if self.chief:
            with atomic_path(self.file("model.keras"), suffix=".keras") as tmp:
                model.save(tmp)

    def plot_curves(self) -> None:
        rows = self.read_metrics()
        if not self.chief or not rows:
            return
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        keys = sorted({k.removeprefix("val_") for r in rows for k in r
                       if k.startswith("val_")} | {"loss"})
        fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
        epochs = [r["epoch"] for r in rows]
        for ax, key in zip(axes[0], keys):
            for prefix, style in (("", "-"), ("val_", "--")):
                ys = [r.get(prefix + key) for r in rows]
                if any(y is not None for y in ys):
                    ax.plot(epochs, ys, style, marker="o", label=(prefix or "train_") + key)
            ax.set_xlabel("epoch")
            ax.set_title(key)
            ax.legend()
        fig.tight_layout()
        with atomic_path(self.file("curves.png"), suffix=".png") as tmp:
            fig.savefig(tmp, dpi=80)
        plt.close(fig)
