"""Opening a finished (or running) run directory: its resolved spec, model and best weights."""
from __future__ import annotations

import os
import sys
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
    """Opens a run: its plugins (recorded ones, then `plugins`), spec, model and weights.

    The run must be the one that was trained: `spec.yaml` must hash to what run.json
    recorded, and every model variable must come from the checkpoint. An edited or
    damaged run directory is a RunError (exit 2), never a silently different model.
    """
    import tensorflow as tf

    from builder import SpecErrors, build_model, load_spec
    from builder.plugins import PluginError, load_plugins

    from . import checkpoints as files
    from . import console
    from .layout import RunJsonError, read_run_json
    spec_path = os.path.join(path, "spec.yaml")
    if not os.path.isfile(spec_path):
        raise RunError(f"{path} is not a run directory (no spec.yaml); train first: "
                       f"kspec train SPEC --out {path}")
    try:
        info = read_run_json(path)
    except RunJsonError as exc:
        raise RunError(str(exc)) from None
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
    if info.get("spec_sha256") and info["spec_sha256"] != spec.sha256:
        raise RunError(f"{spec_path} was edited after training (its sha256 differs from the "
                       "one run.json recorded): the weights belong to the spec that was "
                       "trained. Restore it, or train the edited spec into another --out")
    model = build_model(spec)
    weights = checkpoint
    if weights is None:
        weights, notes = files.best_or_last(os.path.join(path, "checkpoints"))
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    if weights:
        try:
            status = tf.train.Checkpoint(model=model).read(weights)
            status.assert_existing_objects_matched()
            status.expect_partial()  # the optimizer's slots are not needed here
        except (AssertionError, ValueError, tf.errors.OpError) as exc:
            raise RunError(f"{weights} does not fit the run's model "
                           f"({str(exc).strip().splitlines()[0][:200]})") from None
    elif os.path.isfile(os.path.join(path, "model.keras")):
        weights = os.path.join(path, "model.keras")
        from .weights_files import WeightsFileError, checked_copy
        try:
            with checked_copy(weights) as copy:  # checked before Keras reads an array
                model.load_weights(copy)
        except WeightsFileError as exc:
            raise RunError(str(exc)) from None
        except (ValueError, OSError) as exc:  # Keras' own refusals, a damaged archive
            reason = (str(exc).strip() or type(exc).__name__).splitlines()[0][:200]
            raise RunError(f"{weights} does not fit the run's model ({reason})") from None
    else:
        raise RunError(f"{path} has no readable checkpoint and no model.keras yet")
    return LoadedRun(path, spec, model, info, weights)
