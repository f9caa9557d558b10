"""Continuing a run: from the newest checkpoint that reads back, and only the same run."""
from __future__ import annotations

import hashlib
import json
import os
import shutil

from .strategy import OptionError


def model_hash(spec) -> str:
    """Hash of everything but `train:` and `init:`: a run directory may continue with new
    epochs, and where its weights first came from no longer matters once it has a
    checkpoint."""
    body = {k: v for k, v in spec.resolved.items() if k not in ("train", "init")}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def resume(s) -> bool:
    """Restores session `s` from its newest intact checkpoint; returns whether it did.

    Never starts over in a directory that holds checkpoints unless --restart says so.
    """
    import tensorflow as tf

    from rundir import checkpoints as files
    ck, say = s.checkpoints, s.progress.say
    last = ck.last_folder()
    if s.chief:
        for kind in ("last", "best"):
            for name in files.remove_temporaries(os.path.join(s.rundir.checkpoints, kind)):
                say(f"note: removed {kind}/{name}, left by a save that was stopped")
    if not s.args.resume:
        if s.chief and os.path.isdir(s.rundir.checkpoints):
            shutil.rmtree(s.rundir.checkpoints)
            say(f"--restart: starting over in {s.rundir.path}; its checkpoints and metrics "
                "were removed")
        if s.chief:
            s.rundir.repair_metrics(0, "")
        return False
    if not files.has_any(last):
        return False
    s.init_report = check_same_run(s).get("init")  # the start this run was made from
    prefix, skipped = files.newest_intact(last)
    if prefix is None:
        raise OptionError(f"{last} holds checkpoints but none can be read ("
                          f"{'; '.join(skipped) or 'no checkpoint files'}); pass --restart "
                          "to start over there, or another --out")
    if skipped:
        say(f"note: {'; '.join(skipped)}; resuming from {os.path.basename(prefix)}")
    try:
        ck.restore(prefix)
    except (AssertionError, ValueError, tf.errors.OpError) as exc:
        raise OptionError(f"{prefix} does not fit this model ({str(exc).splitlines()[0]}); "
                          "pass --restart to start over, or another --out") from None
    for note in s.rundir.repair_metrics(int(ck.epoch.numpy()), ck.last_row.numpy().decode()):
        say(f"note: {note}")
    return True


def check_same_run(s) -> dict:
    """A resume continues the recorded run or refuses: the fields that decide what the
    next step computes must be the ones the checkpoint was made with. Returns the
    recorded run.json."""
    from rundir.layout import RunJsonError

    from .session import absolute_if_folder
    try:
        recorded = s.rundir.read_run_json()
    except RunJsonError as exc:
        raise OptionError(str(exc)) from None
    if not recorded:
        raise OptionError(f"{s.rundir.path} holds checkpoints but no run.json to check them "
                          "against; pass --restart to start over there, or another --out")
    now = {"model_sha256": model_hash(s.spec), "seed": s.args.seed,
           "global_batch": s.global_batch, "dataset": absolute_if_folder(s.args.data),
           "precision": s.precision}
    for field, value in now.items():
        if field in recorded and recorded[field] != value:
            what = "model (spec)" if field == "model_sha256" else field
            shown = ("" if field == "model_sha256"
                     else f": recorded {recorded[field]!r}, now {value!r}")
            raise OptionError(f"{s.rundir.path} holds a run with a different {what}{shown}; "
                              "pass --restart to start over there, or another --out")
    return recorded
