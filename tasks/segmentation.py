"""Semantic segmentation: a class per pixel; cross-entropy, soft Jaccard and Dice losses."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .agreement import Check, mean_class_iou, pick
from .base import Task
from .data.sources import DataError

SMOOTH = 1.0


def soft_overlap(y_true, y_pred, classes: int, kind: str):
    """Per-example 1 - Dice or 1 - Jaccard (soft IoU) of class ids, averaged over classes."""
    return overlap_loss(tf.one_hot(tf.cast(y_true, tf.int32), classes), y_pred, kind)


def overlap_loss(truth, prob, kind: str):
    """1 - Dice or 1 - Jaccard of per-class maps [B, H, W, C], averaged over classes.

    SMOOTH keeps a class absent from both maps at a perfect score, not 0 / 0."""
    axes = [1, 2]
    inter = tf.reduce_sum(truth * prob, axes)
    total = tf.reduce_sum(truth, axes) + tf.reduce_sum(prob, axes)
    if kind == "dice":
        score = (2 * inter + SMOOTH) / (total + SMOOTH)
    else:
        score = (inter + SMOOTH) / (total - inter + SMOOTH)
    return 1.0 - tf.reduce_mean(score, -1)


class Segmentation(Task):
    name = "segmentation"
    needs = ("mask",)

    def __init__(self, spec):
        super().__init__(spec)
        self.classes = self.head["classes"]

    @classmethod
    def classes_in(cls, source) -> int:
        if not source.mask_classes:
            raise DataError(f"dataset {source.name}: how many classes its masks hold is not "
                            "recorded; set head.classes (background included)")
        return source.mask_classes

    def check_source(self, source):
        notes = super().check_source(source)
        if source.mask_classes and source.mask_classes > self.classes:
            raise DataError(f"dataset {source.name}, field mask: masks hold {source.mask_classes}"
                            f" classes (background included) but head.classes is "
                            f"{self.classes}: set --set head.classes={source.mask_classes}")
        return notes

    def targets(self, example):
        return tf.cast(example["mask"][..., 0], tf.int32)

    def loss(self, y_true, y_pred):
        y_pred = tf.cast(y_pred, tf.float32)
        kind = self.head["loss"]
        out = 0.0
        if kind.startswith("cross_entropy"):
            out += tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y_true, y_pred),
                                  [1, 2])
        if kind.endswith("dice"):
            out += soft_overlap(y_true, y_pred, self.classes, "dice")
        if kind.endswith("jaccard"):
            out += soft_overlap(y_true, y_pred, self.classes, "jaccard")
        return out

    def make_metrics(self):
        return [keras.metrics.MeanIoU(self.classes, name="mean_iou", sparse_y_true=True,
                                      sparse_y_pred=False),
                keras.metrics.SparseCategoricalAccuracy(name="pixel_accuracy")]

    def primary_metric(self):
        return "mean_iou", "max"

    export_output = "probabilities"

    def quantized_checks(self, quantize, got, ref, x):
        probs = ref["probabilities"]
        got_ids = np.argmax(np.asarray(pick(got, "probabilities")).reshape(probs.shape), -1)
        ref_ids = np.argmax(probs, -1)
        return [Check("pixel agreement", float(np.mean(got_ids == ref_ids)), 0.98, True),
                mean_class_iou(got_ids, ref_ids, probs.shape[-1])]

    def serving_outputs(self, y, for_tflite):
        return {"probabilities": y, "masks": tf.argmax(y, -1, output_type=tf.int32)}

    def draw(self, image, item, class_names=()):
        from . import draw
        pic = draw.canvas(image, item.get("mask"))
        draw.boxes(pic, item, class_names)
        return pic

    def decode(self, y_pred, class_names=()):
        masks = np.argmax(np.asarray(y_pred), -1)
        return [{"mask": m.tolist(),
                 "class_pixels": {int(c): int((m == c).sum()) for c in np.unique(m)}}
                for m in masks]
