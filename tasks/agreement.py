"""How close an exported model's outputs are to the Keras model's: one `Check` per measure.

Each task judges its quantized artifacts by its own yardstick (a classifier by its
top-1 class, a segmenter by its pixels, a detector by its boxes); these are the
measures they use. All take NumPy arrays of the artifact's (`got`) and Keras'
(`ref`) outputs for the same samples.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# float32 artifacts must match Keras to rounding; quantized ones within these when a
# task has no better yardstick than the raw values.
REL_DIFF = {"none": 1e-5, "float16": 1e-2, "dynamic": 5e-2, "int8": 0.1}


@dataclass(frozen=True)
class Check:
    """One measure of an artifact against Keras, with the bar it must clear."""

    measure: str
    value: float
    bar: float
    higher_is_better: bool

    @property
    def passed(self) -> bool:
        if not np.isfinite(self.value):
            return False
        return self.value >= self.bar if self.higher_is_better else self.value <= self.bar

    @property
    def bar_text(self) -> str:
        return f"{'>=' if self.higher_is_better else '<='} {self.bar:g}"


def rel_diff(got, ref, quantize: str) -> Check:
    """Largest absolute difference relative to the output's scale."""
    ref = np.asarray(ref, np.float64)
    got = np.asarray(got, np.float64).reshape(ref.shape)
    scale = float(np.max(np.abs(ref))) or 1.0
    return Check("max rel. diff", float(np.max(np.abs(got - ref))) / scale, REL_DIFF[quantize],
                 False)


def top1_agreement(got, ref, bar: float = 0.98, what: str = "top-1 agreement") -> Check:
    """Share of samples (or pixels) whose highest-scoring class is the same."""
    ref = np.asarray(ref)
    got = np.asarray(got).reshape(ref.shape)
    return Check(what, float(np.mean(np.argmax(got, -1) == np.argmax(ref, -1))), bar, True)


def mean_class_iou(got_ids, ref_ids, classes: int, bar: float = 0.9) -> Check:
    """Mean over classes present in either map of the IoU of their pixels."""
    got_ids, ref_ids = np.asarray(got_ids), np.asarray(ref_ids)
    ious = []
    for c in range(classes):
        g, r = got_ids == c, ref_ids == c
        union = int(np.sum(g | r))
        if union:
            ious.append(float(np.sum(g & r)) / union)
    return Check("mean IoU", float(np.mean(ious)) if ious else 1.0, bar, True)


def mean_box_iou(got_yxyx, ref_yxyx, bar: float = 0.9) -> Check:
    """Mean IoU of corresponding boxes ([..., 4], ymin xmin ymax xmax)."""
    a = np.asarray(ref_yxyx, np.float64).reshape(-1, 4)
    b = np.asarray(got_yxyx, np.float64).reshape(-1, 4)
    inter = (np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
             * np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None))
    area = lambda t: (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])  # noqa: E731
    iou = inter / np.maximum(area(a) + area(b) - inter, 1e-12)
    return Check("mean box IoU", float(np.mean(iou)), bar, True)


def mask_iou(got, ref, threshold: float, bar: float = 0.95) -> Check:
    """IoU of the cells at or above the threshold in both mask sets."""
    on_g = np.asarray(got) >= threshold
    on_r = np.asarray(ref).reshape(on_g.shape) >= threshold
    union = int(np.sum(on_g | on_r))
    return Check("mask IoU", float(np.sum(on_g & on_r)) / union if union else 1.0, bar, True)


def error_ratio(got, ref, target, bar: float = 1.2) -> Check:
    """Mean squared error of the artifact against the target, over Keras' own error."""
    target = np.asarray(target, np.float64)
    got = np.asarray(got, np.float64).reshape(target.shape)
    ref = np.asarray(ref, np.float64).reshape(target.shape)
    keras_err = float(np.mean((ref - target) ** 2))
    got_err = float(np.mean((got - target) ** 2))
    return Check("MSE ratio to Keras", got_err / keras_err if keras_err else
                 (1.0 if got_err == 0 else float("inf")), bar, False)


def pick(outs: dict, name: str):
    """The output called `name` (TFLite may prefix it), else the only/first one."""
    for key, value in outs.items():
        if key == name or key.endswith(name):
            return value
    return next(iter(outs.values()))
