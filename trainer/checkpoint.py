"""One tf.train.Checkpoint with everything a resume needs, kept as last-N plus best.

It holds the model, the optimizer (its loss scale included), the global step, the
epoch, the fine-tuning phase, the position within the epoch, the epoch's running loss
sum, step count and seconds (so a resumed epoch's metrics row covers the whole epoch),
and the best metric. The input pipeline's randomness is a pure function of (seed, epoch,
position), so those counters are the whole RNG state a resume needs.

Saving: TF writes a checkpoint's shards under a temporary name and renames them, so a
kill mid-save leaves older checkpoints as they were. A new checkpoint is read back
before anything older is pruned, and the pointer file is written after that, so the
newest good checkpoint is never deleted in favour of one that cannot be read.
"""
from __future__ import annotations

import os
import tempfile

import tensorflow as tf

from rundir import checkpoints as files


class UnreadableSave(Exception):
    """A checkpoint that was just written does not read back (the disk lied or is full)."""


class Checkpoints:
    def __init__(self, folder: str, model, optimizer, keep: int, chief: bool, worker_id=0):
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.epoch_loss = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.epoch_steps = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.epoch_seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.best = tf.Variable(float("nan"), dtype=tf.float64, trainable=False)
        # 1, or 2 once `train.unfreeze_at` unfroze the frozen layers (two-phase fine-tuning).
        self.phase = tf.Variable(1, dtype=tf.int64, trainable=False)
        # The metrics row of the last finished epoch: appended to metrics.jsonl after the
        # checkpoint is saved, and again on resume if a kill came in between.
        self.last_row = tf.Variable("", dtype=tf.string, trainable=False)
        self.ckpt = tf.train.Checkpoint(
            model=model, optimizer=optimizer, step=self.step, epoch=self.epoch,
            step_in_epoch=self.step_in_epoch, epoch_loss=self.epoch_loss,
            epoch_steps=self.epoch_steps, epoch_seconds=self.epoch_seconds, best=self.best,
            last_row=self.last_row, phase=self.phase)
        # Every worker restores from the run's folder (shared storage) and must take part
        # in saving; only the chief's copy is kept, the others write to a scratch folder.
        self.run_folder, self.keep, self.chief = folder, keep, chief
        if not chief:
            folder = os.path.join(tempfile.gettempdir(), f"kspec-worker{worker_id}-{os.getpid()}")
        self.folder = folder
        self.restored_from: str | None = None

    def last_folder(self, run_folder: bool = True) -> str:
        return os.path.join(self.run_folder if run_folder else self.folder, "last")

    def restore(self, prefix: str) -> None:
        """Restores everything from `prefix`; every variable must match (else ValueError)."""
        self.ckpt.read(prefix).assert_existing_objects_matched()
        self.restored_from = prefix

    def save(self) -> str:
        return self._write("last", self.keep)

    def save_best(self) -> str:
        return self._write("best", 1)

    def latest_saved(self) -> str | None:
        prefixes = files.listed(os.path.join(self.folder, "last"))
        return prefixes[0] if prefixes else None

    def _write(self, kind: str, keep: int) -> str:
        folder = os.path.join(self.folder, kind)
        prefix = self.ckpt.write(os.path.join(folder, f"ckpt-{int(self.step.numpy())}"))
        if not self.chief:
            return prefix
        why = files.unreadable(prefix)
        if why:
            raise UnreadableSave(f"{prefix} was written but does not read back ({why})")
        kept = [p for p in files.listed(folder) if p != prefix]
        for old in kept[max(keep - 1, 0):]:  # pruned only now that the new one reads back
            files.remove(old)
        _write_pointer(folder, prefix, [prefix] + kept[:max(keep - 1, 0)])
        return prefix


def _write_pointer(folder: str, latest: str, all_paths: list) -> None:
    """The `checkpoint` pointer file TF's own tools read (`tf.train.latest_checkpoint`)."""
    from tensorflow.python.checkpoint import checkpoint_management
    checkpoint_management.update_checkpoint_state_internal(
        folder, os.path.basename(latest), [os.path.basename(p) for p in reversed(all_paths)],
        save_relative_paths=True)
