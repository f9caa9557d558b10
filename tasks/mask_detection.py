"""Detection by masks (Szegedy, Toshev, Erhan. Deep Neural Networks for Object Detection.
NIPS 2013): the network regresses, per object class, a low-resolution mask of where
objects of that class are; each connected region of a thresholded mask becomes a box.

The paper adds half-object masks to split touching objects of one class. Here a mask
can instead cover each box shrunk about its centre (`shrink` below 1; a region is grown
back by as much when decoded), which keeps touching objects apart; with `shrink: 1`, the
paper's whole-object mask, two touching objects of one class come out as one box.
Scored like the grid detector (mAP@0.5, via `Detection.evaluate`).
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .agreement import mask_iou, pick
from .detection import Detection
from .segmentation import overlap_loss


class MaskDetection(Detection):
    name = "mask_detection"

    def targets(self, example):
        """Boxes [B, N, 4] yxyx (padding -1) -> masks [B, H, W, C]: a cell is on for class c
        when its centre lies in a box of class c (or the box's centre lies in the cell,
        so that a box smaller than a cell still marks one)."""
        boxes, labels = example["boxes"], tf.cast(example["box_labels"], tf.int32)
        boxes = scale_boxes(boxes, self.head["shrink"])
        gh, gw = self.grid
        rows = (tf.range(gh, dtype=tf.float32) + 0.5) / gh
        cols = (tf.range(gw, dtype=tf.float32) + 0.5) / gw
        ymin, xmin, ymax, xmax = (boxes[..., i][..., None] for i in range(4))  # [B, N, 1]
        in_rows = (rows >= ymin) & (rows <= ymax)                                # [B, N, H]
        in_cols = (cols >= xmin) & (cols <= xmax)                                # [B, N, W]
        centre_row = tf.cast((ymin + ymax) / 2 * gh, tf.int32) == tf.range(gh)
        centre_col = tf.cast((xmin + xmax) / 2 * gw, tf.int32) == tf.range(gw)
        cells = ((in_rows[..., :, None] & in_cols[..., None, :])
                 | (centre_row[..., :, None] & centre_col[..., None, :]))         # [B, N, H, W]
        cells &= (labels >= 0)[..., None, None]
        onehot = tf.one_hot(tf.maximum(labels, 0), self.classes)                # [B, N, C]
        per_object = tf.cast(cells, tf.float32)[..., None] * onehot[:, :, None, None, :]
        return tf.reduce_max(per_object, axis=1)

    def loss(self, y_true, y_pred):
        # From logits: most cells are empty, so early training drives their probabilities
        # towards 0, where a clipped log(p) would have no gradient left (seen: stuck runs).
        logits = tf.cast(y_pred, tf.float32)
        bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=logits)
        loss = tf.reduce_mean(bce, [1, 2, 3])
        if self.head["loss"] == "binary_cross_entropy_dice":
            loss += overlap_loss(y_true, tf.sigmoid(logits), "dice")
        return loss

    def make_metrics(self):
        return [keras.metrics.BinaryIoU(target_class_ids=[1], threshold=self.head["threshold"],
                                        name="mask_iou")]

    def update_metrics(self, metrics, y_true, y_pred):
        metrics[0].update_state(y_true, tf.sigmoid(tf.cast(y_pred, tf.float32)))

    export_output = "masks"

    def serving_outputs(self, y, for_tflite):
        return {"masks": tf.sigmoid(y)}  # regions become boxes on the host (`kspec predict`)

    def export_key(self, ref):
        return "masks"

    def quantized_checks(self, quantize, got, ref, x):
        # What a deployment keeps is the thresholded mask (its regions are the boxes):
        # a cell near the threshold flips under any rounding, so compare the masks.
        return [mask_iou(pick(got, "masks"), ref["masks"], self.head["threshold"])]

    def eval_detections(self, y_pred) -> list:
        """The regions `decode` finds, scored by their mean probability (the mask's
        threshold is what makes a region)."""
        out = []
        for item in self.decode(y_pred):
            objects = item["objects"]
            out.append((np.array([o["box"] for o in objects]).reshape(-1, 4),
                        np.array([o["score"] for o in objects]),
                        np.array([o["class"] for o in objects])))
        return out

    def decode(self, y_pred, class_names=()):
        """Mask logits -> per image, one object per connected region of each class's mask."""
        probs = np.asarray(tf.sigmoid(tf.cast(y_pred, tf.float32)))
        gh, gw = self.grid
        out = []
        for image in probs:
            objects = []
            for c in range(self.classes):
                for rows, cols in connected_regions(image[..., c] >= self.head["threshold"]):
                    if len(rows) < self.head["min_cells"]:
                        continue
                    region = np.array([rows.min() / gh, cols.min() / gw,
                                       (rows.max() + 1) / gh, (cols.max() + 1) / gw])
                    box = np.clip(scale_boxes(region, 1 / self.head["shrink"]), 0.0, 1.0)
                    objects.append({"class": c, "score": float(image[rows, cols, c].mean()),
                                    "box": box})
            objects.sort(key=lambda o: -o["score"])
            for o in objects:
                o["box"] = [float(v) for v in o["box"]]
                if class_names:
                    o["name"] = class_names[o["class"]]
            out.append({"objects": objects, "box_format": "ymin,xmin,ymax,xmax"})
        return out


def scale_boxes(boxes, factor: float):
    """Boxes (yxyx, last axis) scaled about their centres; padding (-1) stays as it is."""
    if factor == 1.0:
        return boxes
    centre_y, centre_x = (boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2
    half_h = (boxes[..., 2] - boxes[..., 0]) / 2 * factor
    half_w = (boxes[..., 3] - boxes[..., 1]) / 2 * factor
    parts = [centre_y - half_h, centre_x - half_w, centre_y + half_h, centre_x + half_w]
    if isinstance(boxes, np.ndarray):  # decoding, on the host
        return np.where(boxes < 0, boxes, np.stack(parts, -1))
    return tf.where(boxes < 0, boxes, tf.stack(parts, -1))


def connected_regions(on: np.ndarray) -> list:
    """4-connected regions of a boolean [H, W] array, each as (rows, cols) index arrays."""
    seen = np.zeros_like(on, dtype=bool)
    height, width = on.shape
    regions = []
    for start in zip(*np.nonzero(on)):
        if seen[start]:
            continue
        seen[start] = True
        stack, cells = [start], []
        while stack:
            r, c = stack.pop()
            cells.append((r, c))
            for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= nr < height and 0 <= nc < width and on[nr, nc] and not seen[nr, nc]:
                    seen[nr, nc] = True
                    stack.append((nr, nc))
        rows, cols = (np.array(v) for v in zip(*cells))
        regions.append((rows, cols))
    return regions
