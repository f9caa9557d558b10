"""Image encoding: an autoencoder reconstructs its input; a body alone is an encoder."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .agreement import error_ratio, pick
from .base import Task
from .data.sources import DataError


class Autoencoder(Task):
    name = "autoencoder"
    needs = ()

    def targets(self, example):
        return None  # the target is the input itself

    def loss(self, y_true, y_pred):
        err = tf.cast(y_pred, tf.float32) - y_true
        per_pixel = tf.abs(err) if self.head["loss"] == "mae" else tf.square(err)
        return tf.reduce_mean(per_pixel, axis=list(range(1, len(per_pixel.shape))))

    def make_metrics(self):
        return [keras.metrics.MeanSquaredError(name="mse")]

    def primary_metric(self):
        return "mse", "min"

    export_output = "reconstruction"

    def quantized_checks(self, quantize, got, ref, x):
        # What matters is how well the input comes back, not each pixel's rounding.
        return [error_ratio(pick(got, "reconstruction"), ref["reconstruction"], x)]

    def decode(self, y_pred, class_names=()):
        return [{"reconstruction_shape": list(r.shape), "mean": float(np.mean(r))}
                for r in np.asarray(y_pred)]


class NoHead(Autoencoder):
    """A body without a head: trainable only as an identity map (loss mse or mae)."""

    name = "none"
    export_output = "output"
    quantized_checks = Task.quantized_checks  # features have no target to be judged by

    def check_source(self, source):
        if self.head.get("loss", "none") == "none":
            raise DataError("a spec whose head is `task: none` has no loss to train; use it "
                            "with `kspec embed`, or set head.loss to mse or mae")
        out = self.output_shapes[self.outputs[0]]
        if tuple(out) != tuple(self.spec.input["shape"]):
            raise DataError(f"head none with a loss reconstructs the input, but the output "
                            f"shape {out} differs from the input {self.spec.input['shape']}")
        return []
