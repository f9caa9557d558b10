"""Evaluation shared by the workers of a cluster: each evaluates its share of the split,
and the tasks combine the shares with the collectives here (`tasks.base.OneWorker` is
the one-process version of the same interface)."""
from __future__ import annotations

import numpy as np
import tensorflow as tf


class Workers:
    """This worker's place among `count` workers, and sums and gathers across them.

    Every worker must make the same calls in the same order (they are collective ops):
    the training loop evaluates on every worker at the same point of every epoch.
    Only the first replica of each worker contributes, so a worker's share is counted
    once however many devices it has.
    """

    def __init__(self, strategy):
        self.strategy = strategy
        self.local = len(strategy.extended.worker_devices)
        self.count = strategy.num_replicas_in_sync // self.local
        self.index = worker_index(strategy.cluster_resolver)

    def _from_this_worker(self, value):
        first = self.local
        return self.strategy.experimental_distribute_values_from_function(
            lambda ctx: value if ctx.replica_id_in_sync_group % first == 0 else value[:0])

    def sum(self, arrays: list) -> list:
        """Element-wise sums over the workers (float64: counts stay exact)."""
        flat = np.concatenate([np.ravel(a).astype(np.float64) for a in arrays])
        value = tf.constant(flat)
        per_replica = self.strategy.experimental_distribute_values_from_function(
            lambda ctx: value if ctx.replica_id_in_sync_group % self.local == 0
            else tf.zeros_like(value))
        total = self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None).numpy()
        out, at = [], 0
        for a in arrays:
            size = np.size(a)
            out.append(total[at:at + size].reshape(np.shape(a)))
            at += size
        return out

    def average(self, variables) -> None:
        """Sets each float variable to its mean over the workers. Batch normalization's
        moving statistics are updated by each replica from its own examples (Keras
        does not synchronise them), so the workers' copies drift apart; averaged before
        evaluation and the epoch's checkpoint, every worker evaluates, and the chief
        saves, statistics of all the workers' examples."""
        chosen = [v for v in variables if "float" in str(v.dtype)]
        if not chosen:
            return
        summed = self.sum([np.asarray(v.numpy()) for v in chosen])
        for var, total in zip(chosen, summed):
            var.assign((total / self.count).astype(np.dtype(str(var.dtype))))

    def gather(self, arrays: list) -> list:
        """Each array concatenated along its first axis over the workers, in worker
        order (shapes may differ on that axis only)."""
        return [self.strategy.gather(self._from_this_worker(tf.constant(a)), axis=0).numpy()
                for a in arrays]


def worker_index(resolver) -> int:
    """The worker's position in the cluster as tf.distribute numbers input pipelines:
    the chief (when there is one) first, then the workers by index."""
    cluster = resolver.cluster_spec().as_dict()
    chief = 1 if cluster.get("chief") else 0
    if resolver.task_type == "chief":
        return 0
    return chief + (resolver.task_id or 0)


def for_strategy(strategy):
    """`Workers` for a cluster of several workers; None for one process (the task's own
    default: the whole split, so a plugin task's `evaluate` needs no `shard` argument
    unless it trains on a cluster)."""
    if getattr(strategy, "cluster_resolver", None) is None:
        return None
    workers = Workers(strategy)
    return workers if workers.count > 1 else None
