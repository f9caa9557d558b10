"""The epoch loop: steps, checkpoints, SIGTERM, NaN guard, validation, metrics, best model.

Order within an epoch's end, so that a kill at any moment loses nothing: the row is
computed, the counters move to the next epoch, the checkpoint is saved (with the row
inside it), and only then is the row appended to metrics.jsonl. A resume that finds
the row missing appends it from the checkpoint. Nothing is saved unless the weights
are finite.
"""
from __future__ import annotations

import errno
import json
import math
import signal
import time

import tensorflow as tf

from .checkpoint import UnreadableSave
from .options import EXIT_PREEMPTED

MAX_SKIPPED_STEPS = 25  # mixed_float16 skips a few non-finite steps; this many in a row diverged
LOSS_WINDOW = 16  # steps between reads of the loss (each read waits for the device)
DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


class Stop(Exception):
    """Ends training early with an exit code and a message for the person."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


class Preemption:
    """Turns SIGTERM into a flag the loop checks after each step."""

    def __init__(self):
        self.requested = False
        self._old = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame):
        self.requested = True

    def close(self):
        signal.signal(signal.SIGTERM, self._old)


class LossWindow:
    """Loss tensors of recent steps, read in one go: a read per step would stall the device.

    `flush` reads them in order and returns the finite ones; a non-finite loss raises
    Stop naming its step (or, under mixed_float16, counts as a skipped step until
    too many in a row). It is flushed before every checkpoint.
    """

    def __init__(self, s):
        self.s, self.pending, self.first_step, self.skipped = s, [], 0, 0

    def add(self, loss, step_number: int) -> None:
        if not self.pending:
            self.first_step = step_number
        self.pending.append(loss)

    def flush(self) -> list:
        values, pending = [], self.pending
        self.pending = []
        for i, tensor in enumerate(pending):
            value = float(tensor)
            if math.isfinite(value):
                self.skipped = 0
                values.append(value)
                continue
            self.skipped += 1
            if self.s.precision != "mixed_float16" or self.skipped > MAX_SKIPPED_STEPS:
                raise Stop(1, _nan_message(f"loss is {value}", self.first_step + i, self.s))
        return values


def train_loop(s) -> None:
    """Runs from the checkpointed position to the last epoch of session `s`
    (`trainer.session.Session`, whose docstring lists what the loop reads and changes)."""
    ck, progress = s.checkpoints, s.progress
    epochs, steps = s.spec.train["epochs"], s.steps_per_epoch
    preemption = Preemption()
    window = LossWindow(s)
    first_step = True
    try:
        while int(ck.epoch.numpy()) < epochs:
            epoch = int(ck.epoch.numpy())
            first = done = int(ck.step_in_epoch.numpy())
            step_number = int(ck.step.numpy())
            dataset = _distributed(s, epoch, first)
            s.enter_epoch(epoch)
            progress.start_epoch(epoch + 1, first)
            start = time.time()
            for x, y in dataset:
                if done >= steps:
                    break
                step_number += 1
                done += 1
                window.add(s.step(x, y), step_number)
                if first_step:
                    s.first_step_done(step_number)
                    first_step = False
                if s.step.decision_made():
                    s.xla_decided()
                due = step_number % s.spec.train["checkpoint_every"] == 0
                if due or preemption.requested or len(window.pending) >= LOSS_WINDOW:
                    _account(s, window.flush(), step_number, done, start)
                    start = time.time()
                    progress.step(done, ck.epoch_loss.numpy() / max(int(ck.epoch_steps), 1))
                if due or preemption.requested:
                    save(s, "last")
                if preemption.requested:
                    raise Stop(EXIT_PREEMPTED, f"SIGTERM: saved step {step_number} to "
                               f"{s.rundir.checkpoints}; run the same command to resume")
            _account(s, window.flush(), step_number, done, start)
            _end_epoch(s, epoch)
    finally:
        preemption.close()
        s.rundir.plot_curves()  # once, at the end (or when the run stops early)


def _account(s, losses: list, step_number: int, done: int, since: float) -> None:
    """Moves the position and the epoch's running sums to where training is."""
    ck = s.checkpoints
    ck.step.assign(step_number)
    ck.step_in_epoch.assign(done)
    ck.epoch_loss.assign_add(sum(losses))
    ck.epoch_steps.assign_add(len(losses))
    ck.epoch_seconds.assign_add(time.time() - since)


def save(s, kind: str) -> str:
    """Saves a checkpoint of finite weights; a full disk is a Stop that says so."""
    ck = s.checkpoints
    step = int(ck.step.numpy())
    if not _all_finite(s.model.variables + s.optimizer.variables):
        raise Stop(1, _nan_message("the weights are not finite", step, s))
    try:
        return ck.save_best() if kind == "best" else ck.save()
    except (OSError, tf.errors.OpError, UnreadableSave) as exc:
        if not _is_disk_full(exc):
            raise
        raise Stop(1, _disk_full_message(s, exc)) from None


def _all_finite(variables) -> bool:
    checks = [tf.reduce_all(tf.math.is_finite(tf.convert_to_tensor(v))) for v in variables
              if "float" in str(v.dtype)]
    return bool(tf.reduce_all(tf.stack(checks))) if checks else True


def _is_disk_full(exc) -> bool:
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return True
    text = str(exc).lower()
    return any(w in text for w in ("no space left", "file too large", "quota exceeded",
                                   "does not read back"))


def _disk_full_message(s, exc) -> str:
    from rundir import checkpoints as files
    ck = s.checkpoints
    folder = ck.last_folder(run_folder=False)
    for prefix in files.listed(folder):  # a torn save is removed: it would only mislead
        if files.unreadable(prefix):
            files.remove(prefix)
    files.remove_temporaries(folder)
    last = ck.latest_saved()
    need = files.size_of(last) / 1e6 if last else 0
    return (f"disk full writing a checkpoint to {folder} ({_first_line(exc)}): it needs about "
            f"{need:,.1f} MB. The previous checkpoint {last or '(none yet)'} is intact; free "
            "some space and run the same command to resume.")


def _first_line(exc) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _distributed(s, epoch: int, first: int):
    """One epoch of input for every replica: each input pipeline (one per worker) builds
    its own dataset and does the per-epoch work for its own replicas only
    (`Pipeline.train`'s `worker`)."""
    def per_worker(context):
        replicas = s.strategy.num_replicas_in_sync // context.num_input_pipelines
        ds = s.data.pipeline.train(epoch, first, context.input_pipeline_id,
                                   context.num_input_pipelines, replicas)
        options = tf.data.Options()  # each worker has its slices already: no auto-sharding
        options.experimental_distribute.auto_shard_policy = \
            tf.data.experimental.AutoShardPolicy.OFF
        return ds.with_options(options)
    return s.strategy.distribute_datasets_from_function(per_worker)


def _nan_message(what: str, step: int, s) -> str:
    last = s.checkpoints.latest_saved() or s.checkpoints.restored_from or "none yet"
    return (f"{what} at step {step} (epoch {int(s.checkpoints.epoch.numpy()) + 1}): training "
            f"stopped. Nothing was saved after the fault; the last checkpoint is {last}. Lower "
            "the learning rate, or check the data for invalid values.")


def _end_epoch(s, epoch: int) -> None:
    ck = s.checkpoints
    s.align_workers()
    wall = float(ck.epoch_seconds.numpy())
    steps_run = int(ck.epoch_steps.numpy())
    row = {"epoch": epoch + 1, "step": int(ck.step.numpy()),
           "loss": float(ck.epoch_loss.numpy()) / max(steps_run, 1)}
    if s.data.has_validation:
        row.update({f"val_{k}": v for k, v in s.evaluate("validation").items()})
        if not math.isfinite(row.get("val_loss", 0.0)):
            raise Stop(1, _nan_message(f"validation loss is {row['val_loss']}", row["step"], s))
    row.update(images_per_second=steps_run * s.global_batch / max(wall, 1e-9), wall_time=wall)
    name, mode = s.task.primary_metric()
    value = row.get(f"val_{name}", row.get(name))
    best = float(ck.best.numpy())
    ck.epoch.assign_add(1)
    ck.step_in_epoch.assign(0)
    for var in (ck.epoch_loss, ck.epoch_seconds, ck.epoch_steps):
        var.assign(tf.zeros_like(var))
    ck.last_row.assign(json.dumps(row))
    if value is not None and (math.isnan(best) or (value > best if mode == "max" else value < best)):
        ck.best.assign(value)
        save(s, "best")
    save(s, "last")
    s.rundir.append_metrics(row)  # after the checkpoint it describes
    with s.writer.as_default(step=row["step"]):
        for key, value in row.items():
            if key not in ("epoch", "step"):
                tf.summary.scalar(key, value)
    s.progress.end_epoch(row)

