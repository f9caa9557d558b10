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


def load_run(path: str, checkpoint: str | None = None, plugins=()) -> LoadedRun:
    """Opens a run: its plugins (recorded ones, then `plugins`), spec, model and weights."""
    import tensorflow as tf

    from builder import SpecErrors, build_model, load_spec
    from builder.plugins import PluginError, load_plugins
    from trainer.checkpoint import Checkpoints
    spec_path = os.path.join(path, "spec.yaml")
    if not os.path.isfile(spec_path):
        raise RunError(f"{path} is not a run directory (no spec.yaml); train first: "
                       f"kspec train SPEC --out {path}")
    info = {}
    if os.path.isfile(os.path.join(path, "run.json")):
        with open(os.path.join(path, "run.json")) as fh:
            info = json.load(fh)
    from trainer import console
    console.keep_log_in(path)
    recorded = [p for p in info.get("plugins") or [] if isinstance(p, dict)]
    try:
        for p in recorded:
            load_plugins([p["module"]], [p["root"]] if p.get("root") else [])
        load_plugins(plugins)
        spec = load_spec(spec_path)
    except PluginError as exc:
        raise RunError(f"{path} was trained with plugin layers: {exc}; pass --plugin MODULE "
                       "from the folder that holds it") from None
    except SpecErrors as exc:
        raise RunError(f"{path}/spec.yaml does not load:\n{exc}") from None
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
