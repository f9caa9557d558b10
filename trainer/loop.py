"""The epoch loop: steps, checkpoints, SIGTERM, NaN guard, validation, metrics, best model."""
from __future__ import annotations

import math
import signal
import time

import tensorflow as tf

from .options import EXIT_PREEMPTED

MAX_SKIPPED_STEPS = 25  # mixed_float16 skips a few non-finite steps; this many in a row diverged


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


LOSS_WINDOW = 16  # steps between reads of the loss (each read waits for the device)


class LossWindow:
    """Loss tensors of recent steps, read in one go: a read per step would stall the device.

    `flush` reads them in order and returns the finite ones; a non-finite loss raises
    Stop naming its step (or, under mixed_float16, counts as a skipped step until
    too many in a row). It is flushed before every checkpoint, so nothing
    non-finite is ever saved.
    """

    def __init__(self, t):
        self.t, self.pending, self.first_step, self.skipped = t, [], 0, 0

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
            if self.t.precision != "mixed_float16" or self.skipped > MAX_SKIPPED_STEPS:
                raise Stop(1, _nan_message(value, self.first_step + i, self.t))
        return values


def train_loop(t) -> None:
    """Runs from the checkpointed position to the last epoch. `t` is a `train.Trainer`."""
    ck, progress = t.checkpoints, t.progress
    epochs, steps = t.spec.train["epochs"], t.steps_per_epoch
    preemption = Preemption()
    window = LossWindow(t)
    try:
        while int(ck.epoch.numpy()) < epochs:
            epoch = int(ck.epoch.numpy())
            first = done = int(ck.step_in_epoch.numpy())
            step_number = int(ck.step.numpy())
            dataset = t.strategy.experimental_distribute_dataset(
                t.pipeline.train(epoch, first).with_options(_sharding()))
            progress.start_epoch(epoch + 1, first)
            start, losses = time.time(), []
            for x, y in dataset:
                if done >= steps:
                    break
                step_number += 1
                done += 1
                window.add(t.run_step(x, y), step_number)
                due = step_number % t.spec.train["checkpoint_every"] == 0
                if due or preemption.requested or len(window.pending) >= LOSS_WINDOW:
                    losses += window.flush()
                    ck.step.assign(step_number)
                    ck.step_in_epoch.assign(done)
                    if losses:
                        progress.step(done, losses[-1])
                if due or preemption.requested:
                    ck.save()
                if preemption.requested:
                    raise Stop(EXIT_PREEMPTED, f"SIGTERM: saved step {step_number} to "
                               f"{t.rundir.checkpoints}; run the same command to resume")
            losses += window.flush()
            ck.step.assign(step_number)
            ck.step_in_epoch.assign(done)
            _end_epoch(t, epoch, start, losses, done - first)
    finally:
        preemption.close()
        t.rundir.plot_curves()  # once, at the end (or when the run stops early)


def _sharding():
    """Shard by example across workers: every worker reads the same files in the same order."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def _nan_message(loss, step: int, t) -> str:
    ck = t.checkpoints
    last = ck.last.latest_checkpoint or "none yet"
    return (f"loss is {loss} at step {step} (epoch {int(ck.epoch.numpy()) + 1}): training "
            f"stopped. Nothing was saved after "
            f"the fault; the last checkpoint is {last}. Lower the learning rate, or check the "
            "data for invalid values.")


def _end_epoch(t, epoch: int, start: float, losses: list, steps_run: int) -> None:
    ck = t.checkpoints
    wall = time.time() - start
    images = steps_run * t.global_batch
    row = {"epoch": epoch + 1, "step": int(ck.step.numpy()),
           "loss": sum(losses) / max(len(losses), 1)}
    if t.has_validation:
        row.update({f"val_{k}": v for k, v in t.evaluate("validation").items()})
    row.update(images_per_second=images / max(wall, 1e-9), wall_time=wall)
    t.rundir.append_metrics(row)
    with t.writer.as_default(step=row["step"]):
        for key, value in row.items():
            if key not in ("epoch", "step"):
                tf.summary.scalar(key, value)
    t.progress.end_epoch(row)
    name, mode = t.task.primary_metric()
    value = row.get(f"val_{name}", row.get(name))
    best = float(ck.best.numpy())
    ck.epoch.assign_add(1)
    ck.step_in_epoch.assign(0)
    if value is not None and (math.isnan(best) or (value > best if mode == "max" else value < best)):
        ck.best.assign(value)
        ck.save_best()
    ck.save()
