"""Opening a finished (or running) run directory: its resolved spec, model and best weights."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass


class RunError(Exception):
    """A run directory that is missing or incomplete (exit 2)."""


@dataclass
class LoadedRun:
    path: str
    spec: object
    model: object
    info: dict
    weights: str


def load_run(path: str, checkpoint: str | None = None) -> LoadedRun:
    import tensorflow as tf

    from builder import build_model, load_spec
    from trainer.checkpoint import Checkpoints
    spec_path = os.path.join(path, "spec.yaml")
    if not os.path.isfile(spec_path):
        raise RunError(f"{path} is not a run directory (no spec.yaml); train first: "
                       f"kspec train SPEC --out {path}")
    info = {}
    if os.path.isfile(os.path.join(path, "run.json")):
        with open(os.path.join(path, "run.json")) as fh:
            info = json.load(fh)
    spec = load_spec(spec_path)
    model = build_model(spec)
    weights = checkpoint or Checkpoints.latest(os.path.join(path, "checkpoints"))
    if weights:
        tf.train.Checkpoint(model=model).restore(weights).expect_partial()
    elif os.path.isfile(os.path.join(path, "model.keras")):
        weights = os.path.join(path, "model.keras")
        model.load_weights(weights)
    else:
        raise RunError(f"{path} has no checkpoint and no model.keras yet")
    return LoadedRun(path, spec, model, info, weights)
