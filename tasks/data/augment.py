"""Task-aware augmentation of whole batches with stateless random ops.

Boxes and masks move with their images. Vectorised over the batch: one crop-and-
resize, which also does the flips when there is a crop, or else one gather per flip.
A per-example map costs more than the small CNNs it feeds on a 2-core machine, and
the pipeline shares those cores with the training step. Each batch's seed is (run seed, epoch, batch index),
so `--deterministic` runs see identical augmentations and a resumed run sees what
the original saw. Runs in tf.data, outside the compiled step (some image ops
have no XLA kernel).

Boxes are (ymin, xmin, ymax, xmax) in [0, 1]; padded boxes (all -1) stay padded.
"""
from __future__ import annotations

import tensorflow as tf


def _per_example(batch: int, seed, lo=0.0, hi=1.0, width: int = 1, part=None):
    """Random draws for `batch` examples. `part` = (offset, total): the rows
    [offset, offset + batch) of the draws for `total` examples, so that a worker that
    augments its slice of a global batch draws what the whole batch would have."""
    if part is None:
        return tf.random.stateless_uniform([batch, width], seed, lo, hi)
    offset, total = part
    draws = tf.random.stateless_uniform([total, width], seed, lo, hi)
    offset = tf.cast(offset, tf.int32)
    return draws[offset:offset + batch]


def _select(do, a, b):
    """Per-example choice between two batched tensors of any rank."""
    shape = tf.concat([tf.shape(do)[:1], tf.ones([tf.rank(a) - 1], tf.int32)], 0)
    return tf.where(tf.reshape(do, shape), a, b)


def _flip_boxes(boxes, axis: int):
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    flipped = (tf.stack([ymin, 1 - xmax, ymax, 1 - xmin], -1) if axis == 1
               else tf.stack([1 - ymax, xmin, 1 - ymin, xmax], -1))
    return tf.where(boxes < 0, boxes, flipped)  # padding stays -1


def _flip_choice(ex, seed, part=None):
    return _per_example(tf.shape(ex["image"])[0], seed, part=part)[:, 0] < 0.5


def _flip_boxes_of(ex, do, axis: int):
    out = dict(ex)
    for key in ("bbox", "boxes"):
        if key in ex:
            out[key] = _select(do, _flip_boxes(ex[key], axis), ex[key])
    return out


def _flip(ex, do, axis: int):
    """Flips chosen examples along `axis` (1: left-right, 0: up-down) with one gather."""
    size = tf.shape(ex["image"])[axis + 1]
    ramp = tf.range(size)
    index = tf.where(do[:, None], size - 1 - ramp[None, :], ramp[None, :])  # [B, size]
    out = _flip_boxes_of(ex, do, axis)
    for key in ("image", "mask"):
        if key in ex:
            out[key] = tf.gather(ex[key], index, axis=axis + 1, batch_dims=1)
    return out


def _crop(ex, seed, fraction: float, flips: dict, part=None):
    """Cuts up to `fraction` of each side per example, resized back; boxes re-expressed.

    `flips` (axis -> which examples) are flips still to apply to the pixels: sampling a
    window from its far edge to its near one (1 - x1 to 1 - x2) is the crop of the
    flipped image, so flip and crop cost one resampling pass.
    """
    image = ex["image"]
    batch, h, w = tf.shape(image)[0], tf.shape(image)[1], tf.shape(image)[2]
    cuts = _per_example(batch, seed, 0.0, fraction, width=4, part=part)
    windows = tf.stack([cuts[:, 0], cuts[:, 1], 1 - cuts[:, 2], 1 - cuts[:, 3]], -1)
    edges = tf.unstack(windows, axis=1)  # y1, x1, y2, x2
    for axis, do in flips.items():
        for i in (1, 3) if axis == 1 else (0, 2):
            edges[i] = tf.where(do, 1 - edges[i], edges[i])
    sample = tf.stack(edges, 1)
    index = tf.range(batch)
    out = dict(ex)
    out["image"] = tf.image.crop_and_resize(image, sample, index, [h, w])
    if "mask" in ex:
        mask = tf.image.crop_and_resize(tf.cast(ex["mask"], tf.float32), sample, index, [h, w],
                                        method="nearest")
        out["mask"] = tf.cast(mask, ex["mask"].dtype)
    y0, x0 = windows[:, 0], windows[:, 1]
    sy, sx = 1 / (windows[:, 2] - y0), 1 / (windows[:, 3] - x0)
    for key in ("bbox", "boxes"):
        if key in ex:
            b = ex[key]
            extra = [1] * (len(b.shape) - 2)  # [B, 4] or [B, N, 4]

            def col(v, extra=extra):
                return tf.reshape(v, [-1] + extra)
            moved = tf.stack([(b[..., 0] - col(y0)) * col(sy), (b[..., 1] - col(x0)) * col(sx),
                              (b[..., 2] - col(y0)) * col(sy), (b[..., 3] - col(x0)) * col(sx)],
                             -1)
            out[key] = tf.where(b < 0, b, tf.clip_by_value(moved, 0.0, 1.0))
    if "boxes" in ex:
        # A box the crop cut out of view entirely is removed (padding), not kept as a
        # zero-area box with a label.
        kept, b = out["boxes"], ex["boxes"]
        gone = ((kept[..., 2] <= kept[..., 0]) | (kept[..., 3] <= kept[..., 1])) & (b[..., 0] >= 0)
        out["boxes"] = tf.where(gone[..., None], -1.0, kept)
        if "box_labels" in ex:
            labels = ex["box_labels"]
            out["box_labels"] = tf.where(gone, tf.constant(-1, labels.dtype), labels)
    return out


def augment(batch, seed, settings: dict, part=None):
    """Applies the spec's `train.augment` settings to a batch; `seed` is a [2] int tensor.

    `part` = (offset, total): the batch is rows [offset, ...) of a global batch of
    `total` examples (one worker's share); each example is augmented exactly as it would
    be in the whole batch, whatever the number of workers."""
    seeds = tf.random.experimental.stateless_split(seed, num=4)
    ex = dict(batch)
    crop = settings.get("crop")
    flips = {}  # with a crop, the pixels are flipped by the crop's resampling
    for key, axis, flip_seed in (("hflip", 1, seeds[0]), ("vflip", 0, seeds[1])):
        if settings.get(key):
            do = _flip_choice(ex, flip_seed, part)
            if crop:
                flips[axis] = do
                ex = _flip_boxes_of(ex, do, axis)
            else:  # flips move uint8 pixels: a quarter of the float traffic
                ex = _flip(ex, do, axis)
    ex["image"] = tf.cast(ex["image"], tf.float32)
    if crop:
        ex = _crop(ex, seeds[2], crop, flips, part)
    if settings.get("brightness"):
        n = tf.shape(ex["image"])[0]
        delta = _per_example(n, seeds[3], -1.0, 1.0, part=part)[:, 0] * \
            settings["brightness"] * 255.0
        ex["image"] = tf.clip_by_value(ex["image"] + tf.reshape(delta, [-1, 1, 1, 1]), 0.0, 255.0)
    return ex
