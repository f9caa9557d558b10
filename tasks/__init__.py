"""Tasks: heads' losses, metrics, targets and decoding, plus the data sources and pipeline.

`make_task(spec)` returns the task object for a validated spec's `head.task`.
"""
from __future__ import annotations

import importlib

# task name -> "module:Class"; imported on demand so `import tasks` stays light.
TASKS = {
    "classification": "tasks.classification:Classification",
    "regression": "tasks.regression:Regression",
    "localization": "tasks.localization:Localization",
    "classification_localization": "tasks.localization:ClassificationLocalization",
    "detection": "tasks.detection:Detection",
    "mask_detection": "tasks.mask_detection:MaskDetection",
    "segmentation": "tasks.segmentation:Segmentation",
    "autoencoder": "tasks.encoding:Autoencoder",
    "none": "tasks.encoding:NoHead",
}


def task_class(name: str):
    module, cls = TASKS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_task(spec):
    return task_class(spec.task)(spec)
