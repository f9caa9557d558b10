"""The run directory: spec.yaml, run.json, metrics.jsonl, curves.png, model.keras, logs/."""
from __future__ import annotations

import json
import os
import platform
import re
import sys
import time

from .atomic import atomic_path, write_text


def default_run_dir(name: str) -> str:
    """`runs/<name>` with the name reduced to [A-Za-z0-9._-]: a spec's `name: ".."` or
    `name: a/b` must not put a run anywhere but in its own folder under runs/."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip(".") or "run"
    return os.path.join("runs", safe)


class RunDir:
    def __init__(self, path: str, chief: bool = True):
        self.path = path
        self.chief = chief
        os.makedirs(path, exist_ok=True)

    def file(self, *parts) -> str:
        return os.path.join(self.path, *parts)

    @property
    def checkpoints(self) -> str:
        return self.file("checkpoints")

    def write_spec(self, spec) -> None:
        if self.chief:
            write_text(self.file("spec.yaml"), f"# sha256: {spec.sha256}\n" + spec.to_yaml())

    def write_run_json(self, info: dict) -> None:
        import keras
        import tensorflow as tf
        info = {"versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                             "keras": keras.__version__},
                "command": " ".join(sys.argv), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                **info}
        if self.chief:
            write_text(self.file("run.json"), json.dumps(info, indent=1) + "\n")

    def read_run_json(self) -> dict:
        """The recorded run info, or {} when there is none (yet)."""
        try:
            with open(self.file("run.json")) as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return {}

    def append_metrics(self, row: dict) -> None:
        if self.chief:
            with open(self.file("metrics.jsonl"), "a") as fh:
                fh.write(json.dumps(row) + "\n")

    def read_metrics(self) -> list:
        path = self.file("metrics.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def truncate_metrics(self, epochs_done: int) -> None:
        """After a resume, drop rows of epochs the checkpoint does not include."""
        rows = [r for r in self.read_metrics() if r["epoch"] <= epochs_done]
        if self.chief:
            write_text(self.file("metrics.jsonl"), "".join(json.dumps(r) + "\n" for r in rows))

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
