"""SavedModel with a `serving_default` signature and the class names as an asset."""
from __future__ import annotations

import os
import tempfile

import tensorflow as tf

from .serving import serving_function


def write_savedmodel(model, spec, task, class_names, target: str) -> str:
    """Writes the SavedModel folder at `target` (the caller makes that crash-safe)."""
    module = tf.Module()
    module.model = model
    module.serve = serving_function(model, spec, task)
    with tempfile.TemporaryDirectory() as scratch:
        labels = os.path.join(scratch, "labels.txt")
        with open(labels, "w") as fh:
            fh.write("\n".join(class_names) + ("\n" if class_names else ""))
        module.labels = tf.saved_model.Asset(labels)
        tf.saved_model.save(module, target, signatures={"serving_default": module.serve})
    return target
