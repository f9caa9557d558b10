"""Regression: real-valued outputs trained with MSE or MAE.

The target is the canonical `value` field when a source has one; otherwise, for
box-labelled data, the main object's size: its area (1 unit) or its box (4 units).
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .base import Task
from .data.sources import DataError


class Regression(Task):
    name = "regression"
    needs = ("bbox",)

    def check_source(self, source):
        super().check_source(source)
        if self.head["units"] not in (1, 4):
            raise DataError(f"dataset {source.name}: regression targets here are the main "
                            "object's area (units: 1) or box (units: 4)")
        return []

    def targets(self, example):
        b = example["bbox"]
        if self.head["units"] == 4:
            return b
        return ((b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]))[..., None]

    def loss(self, y_true, y_pred):
        err = tf.cast(y_pred, tf.float32) - y_true
        return tf.reduce_mean(tf.abs(err) if self.head["loss"] == "mae" else tf.square(err), -1)

    def make_metrics(self):
        return [keras.metrics.MeanAbsoluteError(name="mae")]

    def primary_metric(self):
        return "mae", "min"

    export_output = "values"

    def decode(self, y_pred, class_names=()):
        return [{"values": [float(v) for v in row]} for row in np.asarray(y_pred)]
