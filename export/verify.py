"""Verification: each artifact, loaded in a fresh process, against the Keras model.

float32 within 1e-5 (relative to the output's scale), float16 within 1e-2,
dynamic range within 5e-2, int8 top-1 agreement >= 98% for classification and
segmentation, int8 within 0.1 otherwise; for mask detection every quantized level is
held to the IoU of its thresholded masks (>= 0.95).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CHILD = os.path.join(os.path.dirname(__file__), "child.py")
TOLERANCE = {"none": 1e-5, "float16": 1e-2, "dynamic": 5e-2}
INT8_AGREEMENT = 0.98
MASK_IOU = 0.95  # quantized masks against float32 ones (mask detection)


def run_child(kind: str, path: str, samples: np.ndarray) -> tuple[dict, float, list]:
    with tempfile.TemporaryDirectory() as tmp:
        x_path, out_path = os.path.join(tmp, "x.npy"), os.path.join(tmp, "out.npz")
        np.save(x_path, samples)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        res = subprocess.run([sys.executable, CHILD, kind, path, x_path, out_path],
                             capture_output=True, text=True, env=env, timeout=600,
                             cwd=tempfile.gettempdir())  # not the project: imports nothing of it
        if res.returncode != 0:
            raise RuntimeError(f"loading {path} in a fresh process failed:\n{res.stderr[-1500:]}")
        info = json.loads(res.stdout.strip().splitlines()[-1])
        with np.load(out_path) as data:
            outs = {k: data[k] for k in data.files}
    return outs, info["latency_s"], info["modules"]


def _main_output(outs: dict, names) -> np.ndarray:
    for name in names:
        for key, value in outs.items():
            if key == name or key.endswith(name):
                return value
    return next(iter(outs.values()))


def compare(task, quantize: str, got: dict, ref: dict) -> tuple[bool, str, float]:
    """Returns (passed, measure name, value)."""
    key = {"classification": "probabilities", "classification_localization": "probabilities",
           "segmentation": "probabilities", "localization": "boxes", "regression": "values",
           "autoencoder": "reconstruction", "mask_detection": "masks",
           "detection": "grid" if "grid" in ref else "scores"}.get(task.name, "output")
    r = np.asarray(ref[key], np.float64)
    g = np.asarray(_main_output(got, [key]), np.float64).reshape(r.shape)
    if task.name == "mask_detection" and quantize != "none":
        # What a deployment keeps is the thresholded mask (its regions are the boxes):
        # a cell near the threshold flips under any rounding, so compare the masks.
        on_g, on_r = g >= task.head["threshold"], r >= task.head["threshold"]
        union = int(np.sum(on_g | on_r))
        iou = float(np.sum(on_g & on_r)) / union if union else 1.0
        return iou >= MASK_IOU, "mask IoU", iou
    if quantize == "int8":
        if task.name in ("classification", "classification_localization", "segmentation"):
            agree = float(np.mean(np.argmax(g, -1) == np.argmax(r, -1)))
            return agree >= INT8_AGREEMENT, "top-1 agreement", agree
        scale = float(np.max(np.abs(r))) or 1.0
        diff = float(np.max(np.abs(g - r))) / scale
        return diff <= 0.1, "max rel. diff", diff
    scale = float(np.max(np.abs(r))) or 1.0
    diff = float(np.max(np.abs(g - r))) / scale
    return diff <= TOLERANCE[quantize], "max rel. diff", diff
