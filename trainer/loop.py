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


def train_loop(t) -> None:
    """Runs from the checkpointed position to the last epoch. `t` is a `train.Trainer`."""
    ck, progress = t.checkpoints, t.progress
    epochs, steps = t.spec.train["epochs"], t.steps_per_epoch
    preemption = Preemption()
    skipped_in_a_row = 0
    try:
        while int(ck.epoch.numpy()) < epochs:
            epoch = int(ck.epoch.numpy())
            first = int(ck.step_in_epoch.numpy())
            dataset = t.strategy.experimental_distribute_dataset(
                t.pipeline.train(epoch, first).with_options(_sharding()))
            progress.start_epoch(epoch + 1, first)
            start, losses = time.time(), []
            for x, y in dataset:
                if first + len(losses) >= steps:
                    break
                loss = t.run_step(x, y)
                ck.step.assign_add(1)
                ck.step_in_epoch.assign_add(1)
                if not math.isfinite(loss):
                    skipped_in_a_row += 1
                    if t.precision != "mixed_float16" or skipped_in_a_row > MAX_SKIPPED_STEPS:
                        raise Stop(1, _nan_message(loss, ck, t))
                    continue  # the loss-scale optimizer skipped this step
                skipped_in_a_row = 0
                losses.append(loss)
                progress.step(first + len(losses), loss)
                if int(ck.step.numpy()) % t.spec.train["checkpoint_every"] == 0:
                    ck.save()
                if preemption.requested:
                    ck.save()
                    raise Stop(EXIT_PREEMPTED, f"SIGTERM: saved step {int(ck.step.numpy())} to "
                               f"{t.rundir.checkpoints}; run the same command to resume")
            _end_epoch(t, epoch, start, losses)
    finally:
        preemption.close()


def _sharding():
    """Shard by example across workers: every worker reads the same files in the same order."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def _nan_message(loss, ck, t) -> str:
    last = ck.last.latest_checkpoint or "none yet"
    return (f"loss is {loss} at step {int(ck.step.numpy())} (epoch {int(ck.epoch.numpy()) + 1}, "
            f"batch {int(ck.step_in_epoch.numpy())}): training stopped. Nothing was saved after "
            f"the fault; the last checkpoint is {last}. Lower the learning rate, or check the "
            "data for invalid values.")


def _end_epoch(t, epoch: int, start: float, losses: list) -> None:
    ck = t.checkpoints
    wall = time.time() - start
    images = len(losses) * t.global_batch
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
    t.rundir.plot_curves()
