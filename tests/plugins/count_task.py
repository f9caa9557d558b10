"""A test plugin that brings a whole task: counting the objects in an image.

It registers a head schema (`builder.register_head`) and a task
(`tasks.register_task`), as a user's plugin module would, and nothing in
`export/`, `trainer/` or `train.py` knows its name: training, evaluation, export
checks, prediction and drawing all go through the task's own methods.
"""
import numpy as np

from builder import HeadLayer, HeadType, register_head
from builder.argtypes import Arg, enum
from tasks import register_task
from tasks.agreement import Check, pick
from tasks.base import Task



def _count_head(args, body_shape, input_shape):
    """A feature map is averaged to a vector; one linear unit is the count."""
    pool = [HeadLayer("globalavgpool", {}, "head_pool")] if len(body_shape) == 3 else []
    return pool + [HeadLayer("dense", {"units": 1, "activation": "linear", "use_bias": True,
                                       "kernel_init": "glorot_uniform", "bias_init": "zeros",
                                       "l1": 0.0, "l2": 0.0}, "count", output=True)]


register_head(HeadType("count", "how many objects an image holds (one real-valued output)",
                       (Arg("loss", enum("mse", "mae"), "mse", "count loss"),), _count_head))


@register_task
class Counting(Task):
    name = "count"
    needs = ("boxes", "box_labels")

    @classmethod
    def classes_in(cls, source) -> int:
        return 0  # a count has no classes

    def targets(self, example):
        import tensorflow as tf
        present = tf.cast(example["box_labels"] >= 0, tf.float32)
        return tf.reduce_sum(present, -1, keepdims=True)

    def loss(self, y_true, y_pred):
        import tensorflow as tf
        err = tf.cast(y_pred, tf.float32) - y_true
        return tf.reduce_mean(tf.abs(err) if self.head["loss"] == "mae" else tf.square(err), -1)

    def make_metrics(self):
        import keras
        return [keras.metrics.MeanAbsoluteError(name="count_mae")]

    def primary_metric(self):
        return "count_mae", "min"

    export_output = "counts"

    def quantized_checks(self, quantize, got, ref, x):
        same = np.round(pick(got, "counts")) == np.round(ref["counts"])
        return [Check("rounded count agreement", float(np.mean(same)), 0.9, True)]

    def decode(self, y_pred, class_names=()):
        return [{"count": float(v[0]), "rounded": int(max(round(float(v[0])), 0))}
                for v in np.asarray(y_pred)]

    def draw(self, image, item, class_names=()):
        from tasks import draw
        pic = draw.canvas(image)
        draw.caption(pic, [f"{item['rounded']} objects ({item['count']:.2f})"])
        return pic
