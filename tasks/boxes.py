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


COCO_THRESHOLDS = tuple(np.round(np.linspace(0.5, 0.95, 10), 2))
MAX_DETECTIONS = 100  # per image and class, as COCO's evaluation keeps


def coco_map(detections, truths, classes: int, thresholds=COCO_THRESHOLDS) -> float:
    """Mean average precision by COCO's protocol, averaged over IoU thresholds and over
    the classes that have objects: 101-point interpolated precision, the top 100
    detections per image and class, and objects marked to ignore (COCO's crowds, VOC's
    `difficult`) counted neither as misses nor, when a detection finds them, as false
    positives. `coco_map(..., thresholds=(0.5,))` is mAP@0.5.

    Written here (not pycocotools) so that training needs no C extension; the tests
    check it against pycocotools on the same predictions.

    Args:
        detections: per image, (boxes [K, 4] yxyx, scores [K], classes [K]).
        truths: per image, (boxes [N, 4] yxyx, classes [N]) or (boxes, classes, ignore
            [N] bool, crowd [N] bool); a crowd box matches by the share of the detection
            inside it, and matches any number of detections.
    """
    thresholds = np.asarray(thresholds, float)
    per_class = []
    for c in range(classes):
        scores, matched, ignored, n_objects = [], [], [], 0
        for det, truth in zip(detections, truths):
            tb, tc = np.asarray(truth[0], float).reshape(-1, 4), np.asarray(truth[1])
            ignore = np.asarray(truth[2], bool) if len(truth) > 2 else np.zeros(len(tc), bool)
            crowd = np.asarray(truth[3], bool) if len(truth) > 3 else np.zeros(len(tc), bool)
            keep = tc == c
            tb, ignore, crowd = tb[keep], ignore[keep], crowd[keep]
            db = np.asarray(det[0], float).reshape(-1, 4)
            ds, dc = np.asarray(det[1], float), np.asarray(det[2])
            db, ds = db[dc == c], ds[dc == c]
            order = np.argsort(-ds, kind="mergesort")[:MAX_DETECTIONS]
            db, ds = db[order], ds[order]
            g_order = np.argsort(ignore, kind="mergesort")  # objects that count come first
            tb, ignore, crowd = tb[g_order], ignore[g_order], crowd[g_order]
            n_objects += int((~ignore).sum())
            m, ig = _match(db, tb, ignore, crowd, thresholds)
            scores.append(ds)
            matched.append(m)
            ignored.append(ig)
        if n_objects == 0:
            continue
        ds = np.concatenate(scores) if scores else np.zeros(0)
        order = np.argsort(-ds, kind="mergesort")
        m = np.concatenate(matched, 1)[:, order] if matched else np.zeros((len(thresholds), 0))
        ig = np.concatenate(ignored, 1)[:, order] if ignored else m
        aps = [_interpolated_ap(m[t] & ~ig[t], ~m[t] & ~ig[t], n_objects)
               for t in range(len(thresholds))]
        per_class.append(np.mean(aps))
    return float(np.mean(per_class)) if per_class else 0.0


def _match(db, tb, ignore, crowd, thresholds):
    """Greedy matching by score, per threshold, as COCO's evaluateImg: (matched, ignored)
    [T, K] for the detections."""
    n_t, k = len(thresholds), len(db)
    matched, ignored = np.zeros((n_t, k), bool), np.zeros((n_t, k), bool)
    if k == 0 or len(tb) == 0:
        return matched, ignored
    ious = iou_matrix(db, tb)
    if crowd.any():  # a crowd box: the share of the detection inside it
        area = (db[:, 2] - db[:, 0]) * (db[:, 3] - db[:, 1])
        inter = ious * 0
        for j in np.nonzero(crowd)[0]:
            y0 = np.maximum(db[:, 0], tb[j, 0])
            x0 = np.maximum(db[:, 1], tb[j, 1])
            y1 = np.minimum(db[:, 2], tb[j, 2])
            x1 = np.minimum(db[:, 3], tb[j, 3])
            inter[:, j] = np.clip(y1 - y0, 0, None) * np.clip(x1 - x0, 0, None)
            ious[:, j] = inter[:, j] / np.maximum(area, 1e-12)
    for t, threshold in enumerate(thresholds):
        taken = np.zeros(len(tb), bool)
        for d in range(k):
            best, best_iou = -1, min(threshold, 1 - 1e-10)
            for g in range(len(tb)):
                if taken[g] and not crowd[g]:
                    continue
                if best > -1 and not ignore[best] and ignore[g]:
                    break  # objects that count are sorted first: stop at the ignored ones
                if ious[d, g] < best_iou:
                    continue
                best, best_iou = g, ious[d, g]
            if best == -1:
                continue
            taken[best] = True
            matched[t, d], ignored[t, d] = True, ignore[best]
    return matched, ignored


def _interpolated_ap(tp, fp, n_objects: int) -> float:
    tps, fps = np.cumsum(tp), np.cumsum(fp)
    recall = tps / n_objects
    precision = tps / np.maximum(tps + fps, np.spacing(1))
    for i in range(len(precision) - 1, 0, -1):  # precision never rises with recall
        precision[i - 1] = max(precision[i - 1], precision[i])
    points = np.linspace(0, 1, 101)
    index = np.searchsorted(recall, points, side="left")
    q = np.zeros(len(points))
    ok = index < len(precision)
    q[ok] = precision[index[ok]]
    return float(q.mean())
