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


def read_run_json(path: str) -> dict:
    file = os.path.join(path, "run.json")
    if not os.path.exists(file):
        return {}
    try:
        with open(file) as fh:
            info = json.load(fh)
        if isinstance(info, dict):
            return info
    except (OSError, ValueError):
        pass
    raise RunJsonError(f"{file} is unreadable (truncated or edited); the run cannot be checked "
                       "against it. Restore it, or start over with --restart or another --out")


def read_metrics(path: str) -> tuple[list, list]:
    """The rows of RUN_DIR/metrics.jsonl, and notes on lines that are not whole JSON (a
    torn last line after a crash or a full disk is skipped, never an error)."""
    file = os.path.join(path, "metrics.jsonl")
    if not os.path.exists(file):
        return [], []
    rows, notes = [], []
    with open(file, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not an object")
                rows.append(row)
            except ValueError:
                notes.append(f"{file}:{number}: a torn or garbled line was dropped")
    return rows, notes


def default_run_dir(name: str) -> str:
    """`runs/<name>` with the name reduced to [A-Za-z0-9._-]: a spec's `name: ".."` or
    `name: a/b` must not put a run anywhere but in its own folder under runs/."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip(".") or "run"
    return os.path.join("runs", safe)


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
        fd = os.open(self.file("metrics.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
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
