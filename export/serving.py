"""The serving function: raw uint8 images in, the task's named outputs out.

Resizing and normalisation happen inside the graph, so a deployment feeds images
as it has them. The task names the outputs (`Task.serving_outputs`: probabilities
and class ids; boxes, scores and classes after NMS; masks); TFLite gets the same
function at the spec's fixed size, with only TFLite builtins.
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
        return task.serving_outputs(y, for_tflite)

    if image_input:
        size = shape[:2] if for_tflite else [None, None]
        signature = tf.TensorSpec([None] + size + shape[2:], tf.uint8, name="image")
    else:
        signature = tf.TensorSpec([None] + shape, tf.float32, name="features")
    return tf.function(serve, input_signature=[signature])

