"""TFLite (LiteRT) in float32, float16, dynamic-range and full-integer int8."""
from __future__ import annotations

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from .serving import serving_function

QUANTIZE = ("none", "float16", "dynamic", "int8")


class FallbackOps(Exception):
    """The model needs ops outside TFLite's builtins; the message names them."""


def convert(model, spec, task, quantize: str, representative=None):
    """Returns (flatbuffer bytes, output names in the flatbuffer's output order)."""
    # Frozen first: converting the concrete function (or a SavedModel of it) kept
    # Keras 3's weights as READ_VARIABLE ops; frozen, they are constants in the file.
    fn = serving_function(model, spec, task, for_tflite=True).get_concrete_function()
    frozen = convert_variables_to_constants_v2(fn)
    names = sorted(fn.structured_outputs.keys())  # flattened (sorted-key) output order
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[None]] for image in representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8  # the raw image, as a deployment has it
    try:
        return converter.convert(), names
    except Exception as exc:  # the converter raises ConverterError and others
        text = str(exc)
        ops = sorted({w for w in text.replace(",", " ").split() if w.startswith("tf.")})
        raise FallbackOps("TFLite conversion with builtin ops only failed"
                          + (f"; ops without a builtin: {', '.join(ops)}" if ops else
                             f": {text.strip().splitlines()[-1][:300]}")) from None


def write_tflite(model, spec, task, quantize: str, target: str, representative=None):
    """Writes the file; returns the output names in the file's order."""
    data, names = convert(model, spec, task, quantize, representative)
    with open(target, "wb") as fh:
        fh.write(data)
    return names


def name_outputs(outs: dict, names: list) -> dict:
    """`Identity`, `Identity_1`, ... (a frozen function's outputs) -> their names."""
    def order(key):
        tail = key.rsplit("_", 1)[-1]
        return int(tail) if key != "Identity" and tail.isdigit() else 0
    keys = sorted(outs, key=order)
    return dict(zip(names, (outs[k] for k in keys))) if len(keys) == len(names) else outs
