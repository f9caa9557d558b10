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
    """Opens a run: the plugins the user names, then its spec, model and weights.

    The run must be the one that was trained: `spec.yaml` must hash to what run.json
    recorded, and every model variable must come from the checkpoint. An edited or
    damaged run directory is a RunError (exit 2), never a silently different model.
    """
    import tensorflow as tf

    from builder import SpecErrors, build_model, load_spec
    from builder.plugins import PluginError, load_plugins, required_by_run

    from . import checkpoints as files
    from . import console
    from .layout import RunJsonError, check_entries, read_run_json
    spec_path = os.path.join(path, "spec.yaml")
    if not os.path.isfile(spec_path):
        raise RunError(f"{path} is not a run directory (no spec.yaml); train first: "
                       f"kspec train SPEC --out {path}")
    try:
        check_entries(path)
        info = read_run_json(path)
    except RunJsonError as exc:
        raise RunError(str(exc)) from None
    if not info.get("spec_sha256"):
        # Without the hash the spec cannot be checked against the weights: refused, never
        # a silently different model.
        raise RunError(f"{path}/run.json " + ("is missing" if not info else
                       "records no spec_sha256") + "; the run's spec.yaml cannot be checked "
                       "against its weights. Restore it from the run's origin, or train again")
    console.keep_log_in(path)
    try:
        load_plugins(plugins)
    except PluginError as exc:
        raise RunError(str(exc)) from None
    # The run's record of its plugins is never imported: only what the user names is.
    missing = required_by_run(info.get("plugins") or [])
    if missing:
        raise RunError(f"{path} was trained with plugin code that kspec does not import on "
                       "a run directory's word: if you trust it, pass "
                       + "; ".join(missing[:5]) + " (a module name from the working "
                       "directory or PYTHONPATH, or the path of its .py file)")
    try:
        spec = load_spec(spec_path)
    except SpecErrors as exc:
        raise RunError(f"{path}/spec.yaml does not load:\n{exc}") from None
    if info["spec_sha256"] != spec.sha256:
        raise RunError(f"{spec_path} was edited after training (its sha256 differs from the "
                       "one run.json recorded): the weights belong to the spec that was "
                       "trained. Restore it, or train the edited spec into another --out")
    model = build_model(spec)
    weights = checkpoint
    if weights is None:
        weights, notes = files.best_or_last(os.path.join(path, "checkpoints"))
        for note in notes:
            console.record(f"note: {note}")
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
