"""What a task owns beyond layers: targets, loss, metrics, checks and decoding.

A task reads canonical examples (see `tasks/data/canonical.py`) and the spec's
head arguments; it knows nothing of strategies, files or the training loop.
Losses return one value per example so the trainer can average them over the
global batch across replicas.
"""
from __future__ import annotations

from .agreement import pick, rel_diff
from .data.sources import DataError


class OneWorker:
    """Evaluation by one process: the whole split, nothing to combine. A cluster's
    trainer passes its own (`trainer.eval_shard.Workers`): `index` of `count` workers,
    `sum` adds arrays over the workers, `gather` concatenates them in worker order."""

    index, count = 0, 1

    def sum(self, arrays: list) -> list:
        return list(arrays)

    def gather(self, arrays: list) -> list:
        return list(arrays)


ONE_WORKER = OneWorker()


class Task:
    """Base of every task. Subclasses set `name`, `needs` and implement the hooks."""

    name = ""
    needs: tuple = ("image",)
    extras: tuple = ()  # fields read when a dataset has them (VOC's `difficult` flags)

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

    @classmethod
    def classes_in(cls, source) -> int:
        """How many classes the head needs for this dataset (when the spec leaves it out)."""
        return source.num_classes

    def check_source(self, source) -> list:
        """Raises DataError when the dataset cannot feed this task; returns notes."""
        spec = source.splits["train"].element_spec
        for field in self.needs:
            if field not in spec:
                raise DataError(f"dataset {source.name}, split train: the {self.name} task needs "
                                f"the field '{field}', which this dataset does not have "
                                f"(it has: {', '.join(sorted(spec))})")
        return []

    def check_classes(self, source, classes: int) -> list:
        """Fewer outputs than the data's classes cannot train; more only waste outputs."""
        have = source.num_classes
        if have > classes:
            raise DataError(f"dataset {source.name} has {have} classes but the spec's "
                            f"head.classes is {classes}: leave head.classes out (it then "
                            f"comes from the data) or set --set head.classes={have}")
        if have and classes > have:
            return [f"head.classes is {classes} but dataset {source.name} has {have} classes: "
                    f"{classes - have} outputs never see a label (leave head.classes out to "
                    "use the data's)"]
        return []

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

    def evaluate(self, predict, pipeline, split: str, shard=ONE_WORKER) -> dict:
        """Mean loss and the task's metrics over one split; `predict` maps x to outputs.

        With several workers (`shard`), each evaluates its share of the split and the
        sums are added across them: the loss's, and every metric's state (Keras' mean,
        accuracy, error and IoU metrics all keep sums), so each worker gets the result
        of the whole split."""
        import numpy as np
        import tensorflow as tf
        metrics = self.make_metrics()
        total, count = 0.0, 0
        for x, y in pipeline.eval(split, shard.index, shard.count):
            pred = predict(x)
            per_example = self.loss(y, pred)
            total += float(tf.reduce_sum(tf.cast(per_example, tf.float32)))
            count += int(tf.shape(per_example)[0])
            self.update_metrics(metrics, y, pred)
        if shard.count > 1:
            state = [v for m in metrics for v in m.variables]
            summed = shard.sum([np.array([total, count], np.float64)]
                               + [np.asarray(v.numpy(), np.float64) for v in state])
            total, count = float(summed[0][0]), int(summed[0][1])
            for var, value in zip(state, summed[1:]):
                var.assign(value.astype(var.dtype))
        out = {"loss": total / max(count, 1)}
        out.update({m.name: float(m.result()) for m in metrics})
        return out

    def primary_metric(self) -> tuple[str, str]:
        """(metric name, "max" or "min") used to pick the best checkpoint."""
        return "loss", "min"

    # -- export ------------------------------------------------------------------------
    export_output = "output"  # the serving output an exported artifact is compared on

    def serving_outputs(self, y, for_tflite: bool) -> dict:
        """The serving signature's named outputs (TensorFlow ops) for model outputs `y`.

        `for_tflite`: the artifact runs on TFLite builtins only (no NMS, for one)."""
        return {self.export_output: y}

    def export_checks(self, quantize: str, got: dict, ref: dict, x) -> list:
        """How an artifact's outputs (`got`) are judged against Keras' (`ref`) on the same
        samples `x` (normalised): float32 must match to rounding; a quantized artifact
        is held to the task's own yardstick (`quantized_checks`)."""
        if quantize == "none":
            key = self.export_key(ref)
            return [rel_diff(pick(got, key), ref[key], "none")]
        return self.quantized_checks(quantize, got, ref, x)

    def export_key(self, ref: dict) -> str:
        return self.export_output

    def quantized_checks(self, quantize: str, got: dict, ref: dict, x) -> list:
        key = self.export_key(ref)
        return [rel_diff(pick(got, key), ref[key], quantize)]

    # -- prediction ----------------------------------------------------------------------
    def decode(self, y_pred, class_names=()) -> list:
        """Model outputs for a batch -> one JSON-ready dict per image."""
        raise NotImplementedError

    def draw(self, image, item: dict, class_names=()):
        """One decoded prediction drawn on its input image (a PIL image): boxes if the
        item has any; tasks with other things to show override it."""
        from . import draw
        pic = draw.canvas(image)
        draw.boxes(pic, item, class_names)
        return pic
