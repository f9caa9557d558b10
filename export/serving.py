"""The serving function: raw uint8 images in, the task's named outputs out.

Resizing and normalisation happen inside the graph, so a deployment feeds images
as it has them. Outputs are named for the task (probabilities and class ids;
boxes, scores and classes after NMS; masks). TFLite gets the same function, but
detection stops at the raw grid there (NMS is no TFLite builtin).
"""
from __future__ import annotations

import tensorflow as tf

from tasks.data.pipeline import normalize


def serving_function(model, spec, task, for_tflite: bool = False):
    shape = list(spec.input["shape"])

    def serve(image):
        x = tf.image.resize(tf.cast(image, tf.float32), shape[:2]) if len(shape) == 3 else image
        if len(shape) == 3:
            x = normalize(x, spec.input)
        y = model(x, training=False)
        return outputs_for(task, y, for_tflite)

    dtype = tf.uint8 if len(shape) == 3 else tf.float32
    signature = tf.TensorSpec([None] + shape, dtype, name="image")
    return tf.function(serve, input_signature=[signature])


def outputs_for(task, y, for_tflite: bool) -> dict:
    name = task.name
    if name == "classification":
        out = {"probabilities": y}
        if not task.multi_label:
            out["class_ids"] = tf.argmax(y, -1, output_type=tf.int32)
        return out
    if name == "classification_localization":
        return {"probabilities": y["class"], "class_ids": tf.argmax(y["class"], -1,
                                                                    output_type=tf.int32),
                "boxes": y["box"]}
    if name == "localization":
        return {"boxes": y}
    if name == "detection":
        if for_tflite:
            return {"grid": y}
        boxes, scores, classes, count = task.decode_tensors(y)
        return {"boxes": boxes, "scores": scores, "classes": classes, "count": count}
    if name == "segmentation":
        return {"probabilities": y, "masks": tf.argmax(y, -1, output_type=tf.int32)}
    if name == "regression":
        return {"values": y}
    return {"reconstruction": y} if name == "autoencoder" else {"output": y}
