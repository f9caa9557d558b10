"""Localization (one box per image) and classification plus localization from one body.

Boxes are predicted as 4 sigmoid outputs (x_center, y_center, width, height) in [0, 1].
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .agreement import mean_box_iou, pick, top1_agreement
from .base import Task
from .boxes import cxcywh_to_yxyx, iou_cxcywh, yxyx_to_cxcywh


def box_loss(kind: str, y_true, y_pred):
    """Per-example box loss: mean squared error, 1 - IoU, or their sum."""
    y_pred = tf.cast(y_pred, tf.float32)
    out = 0.0
    if kind in ("mse", "mse_iou"):
        out += tf.reduce_mean(tf.square(y_true - y_pred), -1) * (4.0 if kind == "mse_iou" else 1)
    if kind in ("iou", "mse_iou"):
        out += 1.0 - iou_cxcywh(y_true, y_pred)
    return out


class MeanBoxIoU(keras.metrics.Mean):
    """Mean IoU between predicted and true boxes (cx, cy, w, h)."""

    def __init__(self, name="iou", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(iou_cxcywh(y_true, tf.cast(y_pred, tf.float32)))


def _decode_box(b):
    yxyx = cxcywh_to_yxyx(tf.constant(b)).numpy()
    return {"box": [float(v) for v in np.clip(yxyx, 0, 1)], "box_format": "ymin,xmin,ymax,xmax"}


def _box_agreement(got, ref):
    """Mean IoU of the artifact's boxes with Keras' (both cx, cy, w, h)."""
    to_yxyx = lambda b: cxcywh_to_yxyx(tf.constant(np.asarray(b, np.float32))).numpy()  # noqa
    return mean_box_iou(to_yxyx(np.asarray(got).reshape(np.shape(ref))), to_yxyx(ref))


class Localization(Task):
    name = "localization"
    needs = ("bbox",)

    def targets(self, example):
        return yxyx_to_cxcywh(example["bbox"])

    def loss(self, y_true, y_pred):
        return box_loss(self.head["box_loss"], y_true, y_pred)

    def make_metrics(self):
        return [MeanBoxIoU()]

    def primary_metric(self):
        return "iou", "max"

    export_output = "boxes"

    def quantized_checks(self, quantize, got, ref, x):
        return [_box_agreement(pick(got, "boxes"), ref["boxes"])]

    def decode(self, y_pred, class_names=()):
        return [_decode_box(b) for b in np.asarray(y_pred)]


class ClassificationLocalization(Task):
    name = "classification_localization"
    needs = ("label", "bbox")

    def check_source(self, source):
        super().check_source(source)
        return self.check_classes(source, self.head["classes"])

    def targets(self, example):
        return {"class": example["label"], "box": yxyx_to_cxcywh(example["bbox"])}

    def loss(self, y_true, y_pred):
        ce = keras.losses.sparse_categorical_crossentropy(y_true["class"], y_pred["class"])
        box = box_loss(self.head["box_loss"], y_true["box"], y_pred["box"])
        return self.head["class_weight"] * ce + self.head["box_weight"] * box

    def make_metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy"), MeanBoxIoU()]

    def update_metrics(self, metrics, y_true, y_pred):
        metrics[0].update_state(y_true["class"], y_pred["class"])
        metrics[1].update_state(y_true["box"], y_pred["box"])

    def primary_metric(self):
        return "iou", "max"

    export_output = "probabilities"

    def serving_outputs(self, y, for_tflite):
        return {"probabilities": y["class"], "boxes": y["box"],
                "class_ids": tf.argmax(y["class"], -1, output_type=tf.int32)}

    def quantized_checks(self, quantize, got, ref, x):
        return [top1_agreement(pick(got, "probabilities"), ref["probabilities"]),
                _box_agreement(pick(got, "boxes"), ref["boxes"])]

    def decode(self, y_pred, class_names=()):
        out = []
        for p, b in zip(np.asarray(y_pred["class"]), np.asarray(y_pred["box"])):
            item = {"class": int(np.argmax(p)), "score": float(np.max(p)), **_decode_box(b)}
            if class_names:
                item["name"] = class_names[item["class"]]
            out.append(item)
        return out
