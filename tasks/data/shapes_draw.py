"""Drawing the `shapes` images with NumPy: filled shapes on a noisy background, with every label.

Pure NumPy and deterministic: example `i` of a split depends only on (seed, split, i).
Boxes are tight around each shape's visible pixels, so a box always encloses its mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES = ("circle", "square", "triangle", "diamond")
SPLIT_IDS = {"train": 0, "validation": 1, "test": 2}


@dataclass(frozen=True)
class DrawSettings:
    image_size: int = 64
    min_shapes: int = 1
    max_shapes: int = 1
    noise: float = 12.0
    seed: int = 0
    min_contrast: float = 70.0   # luminance gap between a shape and the background
    size: tuple = (0.2, 0.36)    # shape radius as a fraction of the image (one shape)
    multi_size: tuple = (0.1, 0.2)


def _shape_mask(kind: int, cy: float, cx: float, r: float, yy, xx):
    dy, dx = yy - cy, xx - cx
    if kind == 0:
        return dy * dy + dx * dx <= r * r
    if kind == 1:
        return (np.abs(dy) <= r * 0.85) & (np.abs(dx) <= r * 0.85)
    if kind == 2:  # upward triangle: apex at top, base at bottom
        t = (dy + r) / (2 * r)
        return (t >= 0) & (t <= 1) & (np.abs(dx) <= t * r)
    return np.abs(dy) + np.abs(dx) <= r


_LUMA = np.array([0.299, 0.587, 0.114])


def _colour(rng, background: float, min_contrast: float):
    """A random colour whose luminance stands out from the background (also in grayscale)."""
    while True:
        c = rng.integers(0, 256, size=3)
        if abs(float(c @ _LUMA) - background) >= min_contrast:
            return c


def draw_example(split: str, index: int, s: DrawSettings) -> dict:
    """One example: image, main label and box, all objects, semantic and instance masks."""
    rng = np.random.default_rng([s.seed, SPLIT_IDS[split], index])
    n = s.image_size
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) + 0.5
    background = float(rng.uniform(20, 235))
    image = background + rng.normal(0, s.noise, size=(n, n, 3))
    semantic = np.zeros((n, n), np.uint8)
    instance = np.zeros((n, n), np.uint8)
    count = int(rng.integers(s.min_shapes, s.max_shapes + 1))
    lo, hi = s.size if s.max_shapes == 1 else s.multi_size
    kinds = []
    placed = []
    for i in range(count):
        kind = int(rng.integers(len(CLASSES)))
        for _ in range(30):  # rejection sampling keeps shapes mostly apart
            r = rng.uniform(lo, hi) * n
            cy, cx = rng.uniform(r, n - r, size=2)
            if all((cy - py) ** 2 + (cx - px) ** 2 > (r + pr) ** 2 * 0.8 for py, px, pr in placed):
                break
        placed.append((cy, cx, r))
        mask = _shape_mask(kind, cy, cx, r, yy, xx)
        image[mask] = _colour(rng, background, s.min_contrast) + rng.normal(0, s.noise / 2, size=(mask.sum(), 3))
        semantic[mask] = kind + 1
        instance[mask] = i + 1
        kinds.append(kind)
    boxes, labels, areas = [], [], []
    for i, kind in enumerate(kinds):
        ys, xs = np.nonzero(instance == i + 1)
        if len(ys) == 0:
            continue  # fully hidden behind later shapes
        boxes.append([ys.min() / n, xs.min() / n, (ys.max() + 1) / n, (xs.max() + 1) / n])
        labels.append(kind)
        areas.append(len(ys))
    main = int(np.argmax(areas))
    return {
        "image": np.clip(image, 0, 255).astype(np.uint8),
        "label": labels[main],
        "bbox": np.asarray(boxes[main], np.float32),
        "objects": {"bbox": np.asarray(boxes, np.float32).reshape(-1, 4),
                    "label": np.asarray(labels, np.int64)},
        "segmentation_mask": semantic[..., None],
        "instance_mask": instance[..., None],
    }
