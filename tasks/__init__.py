"""Tasks: heads' losses, metrics, targets, decoding, serving outputs, export yardsticks and
pictures, plus the data sources and pipeline.

`make_task(spec)` returns the task object for a validated spec's `head.task`. A
plugin module adds a task with `register_task` (and its head with
`builder.register_head`); nothing outside `tasks/` compares task names.
"""
from __future__ import annotations

import importlib

# task name -> "module:Class" (imported on demand so `import tasks` stays light) or a class.
TASKS: dict = {
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


def register_task(cls) -> type:
    """Adds a `tasks.base.Task` subclass under its `name` (usable as a class decorator)."""
    if not cls.name or cls.name in TASKS:
        raise ValueError(f"task {cls.name!r} has no name or is registered twice")
    TASKS[cls.name] = cls
    return cls


def task_class(name: str):
    entry = TASKS[name]
    if isinstance(entry, str):
        module, cls = entry.split(":")
        return getattr(importlib.import_module(module), cls)
    return entry


def make_task(spec):
    return task_class(spec.task)(spec)
