"""Classification: softmax with cross-entropy, or sigmoid with binary cross-entropy."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .agreement import Check, pick, top1_agreement
from .base import Task


class Classification(Task):
    name = "classification"
    needs = ("label",)

    def __init__(self, spec):
        super().__init__(spec)
        self.classes = self.head["classes"]
        self.multi_label = self.head["activation"] == "sigmoid"
        self.smoothing = self.head["label_smoothing"]

    def check_source(self, source):
        super().check_source(source)
        # One sigmoid unit is binary: it fits a two-class dataset.
        return self.check_classes(source, 2 if self.classes == 1 else self.classes)

    def targets(self, example):
        label = example["label"]
        if self.multi_label:  # one unit: binary; several: one-hot of the label
            if self.classes == 1:
                return tf.cast(label[..., None], tf.float32)
            return tf.one_hot(label, self.classes)
        return label

    def loss(self, y_true, y_pred):
        if self.multi_label or self.head["loss"] == "binary_cross_entropy":
            y = tf.cast(y_true, y_pred.dtype)
            if self.smoothing:
                y = y * (1 - self.smoothing) + 0.5 * self.smoothing
            return keras.losses.binary_crossentropy(y, y_pred)
        if self.smoothing:
            onehot = tf.one_hot(tf.cast(y_true, tf.int32), self.classes, dtype=y_pred.dtype)
            return keras.losses.categorical_crossentropy(onehot, y_pred,
                                                         label_smoothing=self.smoothing)
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)

    def make_metrics(self):
        if self.multi_label:
            return [keras.metrics.BinaryAccuracy(name="accuracy")]
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        if self.classes > 5:
            metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5"))
        return metrics

    def primary_metric(self):
        return "accuracy", "max"

    export_output = "probabilities"

    def quantized_checks(self, quantize, got, ref, x):
        got, ref = pick(got, "probabilities"), ref["probabilities"]
        if self.multi_label:  # each label's yes/no, not one top class
            agree = float(np.mean((np.asarray(got).reshape(ref.shape) >= 0.5) == (ref >= 0.5)))
            return [Check("label agreement", agree, 0.98, True)]
        return [top1_agreement(got, ref)]

    def serving_outputs(self, y, for_tflite):
        if self.multi_label:
            return {"probabilities": y}
        return {"probabilities": y, "class_ids": tf.argmax(y, -1, output_type=tf.int32)}

    def draw(self, image, item, class_names=()):
        from . import draw
        pic = draw.canvas(image)
        if "top" in item:
            draw.caption(pic, [draw.label(t, class_names) for t in item["top"][:3]])
        return pic

    def decode(self, y_pred, class_names=()):
        probs = np.asarray(y_pred)
        out = []
        for p in probs:
            if self.multi_label:
                idx = [int(i) for i in np.nonzero(p >= 0.5)[0]] if self.classes > 1 else []
                item = {"scores": p.tolist(), "positive": idx if self.classes > 1
                        else bool(p[0] >= 0.5)}
            else:
                top = np.argsort(-p)[:5]
                item = {"class": int(top[0]), "score": float(p[top[0]]),
                        "top": [{"class": int(i), "score": float(p[i])} for i in top]}
                if class_names:
                    item["name"] = class_names[int(top[0])]
            out.append(item)
        return out
