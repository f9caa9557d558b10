"""One-stage grid detection (YOLO-style): per cell objectness, box and class.

Each object is assigned to the grid cell holding its centre. Per cell the head
predicts [objectness, x, y, w, h, class logits...] (raw); x and y are the centre's
offset within the cell, w and h the box size, all through a sigmoid. Decoding
keeps confident cells and applies non-maximum suppression; the metric is
mAP@0.5 over the split.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .agreement import Check, pick
from .base import ONE_WORKER, Task
from .boxes import average_precision, coco_map

# Evaluation keeps every detection worth ranking, as VOC and COCO score them; the
# head's score_threshold and max_boxes are for deployment.
EVAL_SCORE_THRESHOLD = 0.001
EVAL_MAX_BOXES = 100

COORD_WEIGHT, NOOBJ_WEIGHT = 5.0, 0.5  # YOLO's weights for box terms and empty cells


class Detection(Task):
    name = "detection"
    needs = ("boxes", "box_labels")
    extras = ("box_ignore", "box_crowd")

    def __init__(self, spec):
        super().__init__(spec)
        self.classes = self.head["classes"]
        self.grid = self.output_shapes[self.outputs[0]][:2]

    def check_source(self, source):
        super().check_source(source)
        notes = self.check_classes(source, self.classes)
        if source.records and self.grid[0] == self.grid[1]:
            from .data.report import grid_collisions
            shared, total, files = grid_collisions(source.records.get("train", []),
                                                   self.grid[0])
            if shared:
                notes.append(f"{shared} of {total} training objects share a {self.grid[0]}x"
                             f"{self.grid[1]} grid cell with another, and only one object per "
                             f"cell is learned (e.g. {files[0]})")
        return notes

    def targets(self, example):
        """Batched boxes [B, N, 4] yxyx (padding -1) -> grid targets [B, S, S, 5 + C]."""
        boxes, labels = example["boxes"], tf.cast(example["box_labels"], tf.int32)
        gh, gw = self.grid
        valid = labels >= 0
        if "box_ignore" in example:  # crowds and `difficult` objects are no targets
            valid &= ~example["box_ignore"]
        cy = (boxes[..., 0] + boxes[..., 2]) / 2
        cx = (boxes[..., 1] + boxes[..., 3]) / 2
        gy = tf.clip_by_value(tf.cast(cy * gh, tf.int32), 0, gh - 1)
        gx = tf.clip_by_value(tf.cast(cx * gw, tf.int32), 0, gw - 1)
        values = tf.concat([
            tf.ones_like(cy)[..., None],
            (cx * gw - tf.cast(gx, tf.float32))[..., None],
            (cy * gh - tf.cast(gy, tf.float32))[..., None],
            (boxes[..., 3] - boxes[..., 1])[..., None],
            (boxes[..., 2] - boxes[..., 0])[..., None],
            tf.one_hot(tf.maximum(labels, 0), self.classes)], -1)
        batch = tf.shape(boxes)[0]
        b = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(gy))
        index = tf.stack([b, gy, gx], -1)
        return tf.tensor_scatter_nd_update(
            tf.zeros([batch, gh, gw, 5 + self.classes]), tf.boolean_mask(index, valid),
            tf.boolean_mask(values, valid))

    def loss(self, y_true, y_pred):
        y_pred = tf.cast(y_pred, tf.float32)
        obj = y_true[..., 0]
        obj_loss = keras.losses.binary_crossentropy(obj[..., None], y_pred[..., :1],
                                                    from_logits=True)
        weight = obj + NOOBJ_WEIGHT * (1 - obj)
        box = tf.reduce_sum(tf.square(tf.sigmoid(y_pred[..., 1:5]) - y_true[..., 1:5]), -1)
        cls = keras.losses.categorical_crossentropy(y_true[..., 5:], y_pred[..., 5:],
                                                    from_logits=True)
        per_cell = weight * obj_loss + obj * (COORD_WEIGHT * box + cls)
        return tf.reduce_sum(per_cell, [1, 2])

    def make_metrics(self):
        return [keras.metrics.BinaryAccuracy(name="objectness_accuracy", threshold=0.0)]

    def update_metrics(self, metrics, y_true, y_pred):
        metrics[0].update_state(y_true[..., :1], tf.cast(y_pred[..., :1], tf.float32))

    def primary_metric(self):
        return "map50", "max"

    def evaluate(self, predict, pipeline, split, shard=ONE_WORKER):
        """Loss, mAP@0.5 (VOC's measure) and mAP@[.5:.95] (COCO's) over the split, by
        COCO's protocol: every detection above a score of 0.001, up to 100 per image;
        crowds and `difficult` objects neither missed nor false positives. With several
        workers each detects on its share; detections and truths are gathered so that
        every worker scores the whole split."""
        out = super().evaluate(predict, pipeline, split, shard)
        detections, truths = [], []
        for batch in pipeline.prepared_batches(split, shard.index, shard.count):
            flags = [batch[k].numpy() if k in batch else np.zeros(batch["box_labels"].shape, bool)
                     for k in ("box_ignore", "box_crowd")]
            for found, boxes, labels, ignore, crowd in zip(
                    self.eval_detections(predict(batch["x"])), batch["boxes"].numpy(),
                    batch["box_labels"].numpy(), *flags):
                keep = labels >= 0
                truths.append((boxes[keep], labels[keep], ignore[keep], crowd[keep]))
                detections.append(found)
        if shard.count > 1:
            detections, truths = _gathered(shard, detections, truths)
        out["map50"] = coco_map(detections, truths, self.classes, (0.5,))
        out["map"] = coco_map(detections, truths, self.classes)
        return out

    def eval_detections(self, y_pred) -> list:
        """Per image (boxes [K, 4], scores [K], classes [K]) for evaluation."""
        boxes, scores, classes, count = (t.numpy() for t in self.decode_tensors(
            y_pred, EVAL_SCORE_THRESHOLD, EVAL_MAX_BOXES))
        return [(b[:n], s[:n], c[:n]) for b, s, c, n in zip(boxes, scores, classes, count)]

    def serving_outputs(self, y, for_tflite):
        if for_tflite:  # NMS is no TFLite builtin: the grid is decoded on the host
            return {"grid": y}
        boxes, scores, classes, count = self.decode_tensors(y)
        return {"boxes": boxes, "scores": scores, "classes": classes, "count": count}

    def export_key(self, ref):
        return "grid" if "grid" in ref else "scores"  # TFLite and ONNX stop at the grid

    def quantized_checks(self, quantize, got, ref, x):
        """The boxes a quantized grid gives, scored (mAP@0.5) against Keras' boxes."""
        grid = ref["grid"]
        as_truth = [(b[:n], c[:n]) for b, _, c, n in zip(*self._numpy_detections(grid))]
        found = [(b[:n], s[:n], c[:n]) for b, s, c, n in
                 zip(*self._numpy_detections(np.asarray(pick(got, "grid")).reshape(grid.shape)))]
        if not any(len(c) for _, c in as_truth):  # Keras found nothing: so must the artifact
            value = 0.0 if any(len(c) for _, _, c in found) else 1.0
        else:
            value = average_precision(found, as_truth, self.classes, 0.5)
        return [Check("mAP@0.5 vs Keras", value, 0.9, True)]

    def _numpy_detections(self, grid):
        return [t.numpy() for t in self.decode_tensors(tf.constant(grid))]

    def decode_tensors(self, y_pred, score_threshold=None, max_boxes=None):
        """Raw grid -> (boxes yxyx [B, K, 4], scores [B, K], classes [B, K], count [B]),
        with the head's deployment thresholds unless others are given."""
        y = tf.cast(y_pred, tf.float32)
        gh, gw = self.grid
        gy, gx = tf.meshgrid(tf.range(gh, dtype=tf.float32), tf.range(gw, dtype=tf.float32),
                             indexing="ij")
        xy = tf.sigmoid(y[..., 1:3])
        wh = tf.sigmoid(y[..., 3:5])
        cx, cy = (gx + xy[..., 0]) / gw, (gy + xy[..., 1]) / gh
        boxes = tf.stack([cy - wh[..., 1] / 2, cx - wh[..., 0] / 2,
                          cy + wh[..., 1] / 2, cx + wh[..., 0] / 2], -1)
        scores = tf.sigmoid(y[..., :1]) * tf.nn.softmax(y[..., 5:])
        batch = tf.shape(y)[0]
        nms = tf.image.combined_non_max_suppression(
            tf.reshape(boxes, [batch, -1, 1, 4]), tf.reshape(scores, [batch, -1, self.classes]),
            max_output_size_per_class=max_boxes or self.head["max_boxes"],
            max_total_size=max_boxes or self.head["max_boxes"],
            iou_threshold=self.head["iou_threshold"],
            score_threshold=self.head["score_threshold"] if score_threshold is None
            else score_threshold, clip_boxes=True)
        return (nms.nmsed_boxes, nms.nmsed_scores, tf.cast(nms.nmsed_classes, tf.int32),
                nms.valid_detections)

    def decode(self, y_pred, class_names=()):
        boxes, scores, classes, count = (t.numpy() for t in self.decode_tensors(y_pred))
        out = []
        for b, s, c, n in zip(boxes, scores, classes, count):
            objects = [{"class": int(c[i]), "score": float(s[i]),
                        "box": [float(v) for v in b[i]]} for i in range(n)]
            if class_names:
                for o in objects:
                    o["name"] = class_names[o["class"]]
            out.append({"objects": objects, "box_format": "ymin,xmin,ymax,xmax"})
        return out


def _gathered(shard, detections: list, truths: list) -> tuple[list, list]:
    """Every worker's per-image detections and truths, in worker order. Each field
    travels as one float64 array (exact for the labels and flags too), its per-image
    lists padded to EVAL_MAX_BOXES rows, with the count per image."""
    empty_found = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))
    empty_truth = (np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, bool),
                   np.zeros(0, bool))

    def pack(items, empty):
        rows = items or [empty]  # a worker with no images still sends zero-row arrays
        arrays = [np.array([len(item[0]) for item in rows], np.float64)]
        for i, first in enumerate(rows[0]):
            field = np.zeros((len(rows), EVAL_MAX_BOXES) + first.shape[1:], np.float64)
            for row, item in enumerate(rows):  # truths (at most MAX_OBJECTS) fit too
                field[row, :len(item[i])] = item[i]
            arrays.append(field)
        return [a[:len(items)] for a in arrays], [f.dtype for f in rows[0]]

    def unpack(arrays, dtypes):
        count, fields = arrays[0].astype(int), arrays[1:]
        return [tuple(f[row, :n].astype(d) for f, d in zip(fields, dtypes))
                for row, n in enumerate(count)]

    found, found_types = pack(detections, empty_found)
    truth, truth_types = pack(truths, empty_truth)
    arrays = shard.gather(found + truth)
    return (unpack(arrays[:len(found)], found_types),
            unpack(arrays[len(found):], truth_types))
