"""What a task owns beyond layers: targets, loss, metrics, checks and decoding.

A task reads canonical examples (see `tasks/data/canonical.py`) and the spec's
head arguments; it knows nothing of strategies, files or the training loop.
Losses return one value per example so the trainer can average them over the
global batch across replicas.
"""
from __future__ import annotations

from .data.sources import DataError


class Task:
    """Base of every task. Subclasses set `name`, `needs` and implement the hooks."""

    name = ""
    needs: tuple = ("image",)

    def __init__(self, spec):
        self.spec = spec
        self.head = spec.head
        self.outputs = spec.graph.outputs
        self.output_shapes = {n: spec.shapes[n].shape for n in self.outputs}

    # -- data --------------------------------------------------------------------------
    def targets(self, example):
        """The training target `y` for a batch of canonical examples (TensorFlow ops).

        None means the target is the model input itself (autoencoders)."""
        raise NotImplementedError

    def check_source(self, source) -> None:
        """Raises DataError when the dataset cannot feed this task."""
        spec = source.splits["train"].element_spec
        for field in self.needs:
            if field not in spec:
                raise DataError(f"dataset {source.name}, split train: the {self.name} task needs "
                                f"the field '{field}', which this dataset does not have "
                                f"(it has: {', '.join(sorted(spec))})")

    def check_classes(self, source, classes: int) -> None:
        if source.num_classes > classes:
            raise DataError(f"dataset {source.name} has {source.num_classes} classes but the "
                            f"spec's head.classes is {classes}: set "
                            f"--set head.classes={source.num_classes} (or args.classes)")

    # -- training ----------------------------------------------------------------------
    def loss(self, y_true, y_pred):
        """Per-example loss, shape [batch]; multi-output tasks weight and sum theirs."""
        raise NotImplementedError

    def make_metrics(self) -> list:
        """Fresh stateful metrics (name, object) updated by `update_metrics`."""
        return []

    def update_metrics(self, metrics, y_true, y_pred) -> None:
        for m in metrics:
            m.update_state(y_true, y_pred)

    def evaluate(self, predict, pipeline, split: str) -> dict:
        """Mean loss and the task's metrics over one split; `predict` maps x to outputs."""
        import tensorflow as tf
        metrics = self.make_metrics()
        total, count = 0.0, 0
        for x, y in pipeline.eval(split):
            pred = predict(x)
            per_example = self.loss(y, pred)
            total += float(tf.reduce_sum(tf.cast(per_example, tf.float32)))
            count += int(tf.shape(per_example)[0])
            self.update_metrics(metrics, y, pred)
        out = {"loss": total / max(count, 1)}
        out.update({m.name: float(m.result()) for m in metrics})
        return out

    def primary_metric(self) -> tuple[str, str]:
        """(metric name, "max" or "min") used to pick the best checkpoint."""
        return "loss", "min"

    # -- prediction ----------------------------------------------------------------------
    def decode(self, y_pred, class_names=()) -> list:
        """Model outputs for a batch -> one JSON-ready dict per image."""
        raise NotImplementedError
