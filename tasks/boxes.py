"""Box arithmetic shared by the box tasks: formats, IoU, and average precision."""
from __future__ import annotations

import numpy as np
import tensorflow as tf


def yxyx_to_cxcywh(b):
    """(ymin, xmin, ymax, xmax) -> (x_center, y_center, width, height), all in [0, 1]."""
    return tf.stack([(b[..., 1] + b[..., 3]) / 2, (b[..., 0] + b[..., 2]) / 2,
                     b[..., 3] - b[..., 1], b[..., 2] - b[..., 0]], -1)


def cxcywh_to_yxyx(b):
    return tf.stack([b[..., 1] - b[..., 3] / 2, b[..., 0] - b[..., 2] / 2,
                     b[..., 1] + b[..., 3] / 2, b[..., 0] + b[..., 2] / 2], -1)


def iou_cxcywh(a, b):
    """IoU of boxes in (cx, cy, w, h), elementwise over leading axes (TensorFlow)."""
    a, b = cxcywh_to_yxyx(a), cxcywh_to_yxyx(b)
    inter_h = tf.maximum(0.0, tf.minimum(a[..., 2], b[..., 2]) - tf.maximum(a[..., 0], b[..., 0]))
    inter_w = tf.maximum(0.0, tf.minimum(a[..., 3], b[..., 3]) - tf.maximum(a[..., 1], b[..., 1]))
    inter = inter_h * inter_w
    area = lambda t: (t[..., 2] - t[..., 0]) * (t[..., 3] - t[..., 1])  # noqa: E731
    return inter / tf.maximum(area(a) + area(b) - inter, 1e-9)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a [N, 4] against every box in b [M, 4], both yxyx (NumPy)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    y0 = np.maximum(a[:, None, 0], b[None, :, 0])
    x0 = np.maximum(a[:, None, 1], b[None, :, 1])
    y1 = np.minimum(a[:, None, 2], b[None, :, 2])
    x1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(y1 - y0, 0, None) * np.clip(x1 - x0, 0, None)
    area = lambda t: (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def average_precision(detections, truths, classes: int, threshold: float = 0.5) -> float:
    """mAP at an IoU threshold (VOC all-point interpolation), averaged over classes present.

    Args:
        detections: per image, (boxes [K, 4] yxyx, scores [K], classes [K]).
        truths: per image, (boxes [N, 4] yxyx, classes [N]).
    """
    aps = []
    for c in range(classes):
        scored, n_true = [], 0
        for (db, ds, dc), (tb, tc) in zip(detections, truths):
            t = tb[tc == c]
            n_true += len(t)
            d, s = db[dc == c], ds[dc == c]
            used = np.zeros(len(t), bool)
            ious = iou_matrix(d, t)
            for k in np.argsort(-s):
                j = int(np.argmax(ious[k])) if len(t) else -1
                hit = j >= 0 and ious[k, j] >= threshold and not used[j]
                if hit:
                    used[j] = True
                scored.append((s[k], hit))
        if n_true == 0:
            continue
        scored.sort(key=lambda t: -t[0])
        hits = np.array([h for _, h in scored], float)
        tp, fp = np.cumsum(hits), np.cumsum(1 - hits)
        recall = tp / n_true
        precision = tp / np.maximum(tp + fp, 1e-9)
        r = np.concatenate([[0], recall, [1]])
        p = np.concatenate([[0], precision, [0]])
        for i in range(len(p) - 2, -1, -1):
            p[i] = max(p[i], p[i + 1])
        steps = np.nonzero(r[1:] != r[:-1])[0]
        aps.append(float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1])))
    return float(np.mean(aps)) if aps else 0.0
