"""One tf.train.Checkpoint with everything a resume needs, kept as last-N plus best.

It holds the model, the optimizer (its loss scale included), the global step,
the epoch, the position within the epoch and the best metric. The input
pipeline's randomness is a pure function of (seed, epoch, position), so those
counters are the whole RNG state a resume needs. TF writes checkpoints to a
temporary prefix and swaps its pointer file atomically, so a kill mid-save
leaves the previous checkpoint usable.
"""
from __future__ import annotations

import os
import tempfile

import tensorflow as tf


class Checkpoints:
    def __init__(self, folder: str, model, optimizer, keep: int, chief: bool, worker_id=0):
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.best = tf.Variable(float("nan"), dtype=tf.float64, trainable=False)
        self.ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, step=self.step,
                                        epoch=self.epoch, step_in_epoch=self.step_in_epoch,
                                        best=self.best)
        # Every worker restores from the run's folder (shared storage) and must take part
        # in saving; only the chief's copy is kept, the others write to a scratch folder.
        self.run_folder = folder
        if not chief:
            folder = os.path.join(tempfile.gettempdir(), f"kspec-worker{worker_id}-{os.getpid()}")
        self.last = tf.train.CheckpointManager(self.ckpt, os.path.join(folder, "last"), keep)
        self.best_manager = tf.train.CheckpointManager(self.ckpt, os.path.join(folder, "best"), 1)

    def latest_to_resume(self) -> str | None:
        return tf.train.latest_checkpoint(os.path.join(self.run_folder, "last"))

    def restore(self) -> bool:
        path = self.latest_to_resume()
        if not path:
            return False
        self.ckpt.restore(path).assert_existing_objects_matched()
        return True

    def save(self) -> str:
        return self.last.save(checkpoint_number=int(self.step.numpy()))

    def save_best(self) -> str:
        return self.best_manager.save(checkpoint_number=int(self.step.numpy()))

    @staticmethod
    def latest(folder: str) -> str | None:
        """The best checkpoint of a run, or its last one."""
        for kind in ("best", "last"):
            path = tf.train.latest_checkpoint(os.path.join(folder, kind))
            if path:
                return path
        return None
