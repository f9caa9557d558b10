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
    """SavedModel: uint8 images of any size, resized in the graph. TFLite: the spec's
    size exactly (a fixed-size input needs no resize op on the device)."""
    shape = list(spec.input["shape"])
    image_input = len(shape) == 3

    def serve(image):
        x = image
        if image_input:
            x = tf.cast(image, tf.float32)
            if not for_tflite:
                x = tf.image.resize(x, shape[:2])
            x = normalize(x, spec.input)
        y = model(x, training=False)
        return outputs_for(task, y, for_tflite)

    if image_input:
        size = shape[:2] if for_tflite else [None, None]
        signature = tf.TensorSpec([None] + size + shape[2:], tf.uint8, name="image")
    else:
        signature = tf.TensorSpec([None] + shape, tf.float32, name="features")
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
    if name == "mask_detection":  # regions become boxes on the host (`kspec predict`)
        return {"masks": tf.sigmoid(y)}
    if name == "segmentation":
        return {"probabilities": y, "masks": tf.argmax(y, -1, output_type=tf.int32)}
    if name == "regression":
        return {"values": y}
    return {"reconstruction": y} if name == "autoencoder" else {"output": y}
