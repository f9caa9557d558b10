"""Task-aware augmentation of whole batches with stateless random ops.

Boxes and masks move with their images. Vectorised over the batch (one crop-and-
resize, one select per flip): a per-example map costs more than the small CNNs
it feeds on a 2-core machine. Each batch's seed is (run seed, epoch, batch index),
so `--deterministic` runs see identical augmentations and a resumed run sees what
the original saw. Runs in tf.data, outside the compiled step (some image ops
have no XLA kernel).

Boxes are (ymin, xmin, ymax, xmax) in [0, 1]; padded boxes (all -1) stay padded.
"""
from __future__ import annotations

import tensorflow as tf


def _per_example(batch: int, seed, lo=0.0, hi=1.0, width: int = 1):
    return tf.random.stateless_uniform([batch, width], seed, lo, hi)


def _select(do, a, b):
    """Per-example choice between two batched tensors of any rank."""
    shape = tf.concat([tf.shape(do)[:1], tf.ones([tf.rank(a) - 1], tf.int32)], 0)
    return tf.where(tf.reshape(do, shape), a, b)


def _flip_boxes(boxes, axis: int):
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    flipped = (tf.stack([ymin, 1 - xmax, ymax, 1 - xmin], -1) if axis == 1
               else tf.stack([1 - ymax, xmin, 1 - ymin, xmax], -1))
    return tf.where(boxes < 0, boxes, flipped)  # padding stays -1


def _flip(ex, seed, axis: int):
    """Flips chosen examples along `axis` (1: left-right, 0: up-down) with one gather."""
    batch = tf.shape(ex["image"])[0]
    do = _per_example(batch, seed)[:, 0] < 0.5
    size = tf.shape(ex["image"])[axis + 1]
    ramp = tf.range(size)
    index = tf.where(do[:, None], size - 1 - ramp[None, :], ramp[None, :])  # [B, size]
    out = dict(ex)
    for key in ("image", "mask"):
        if key in ex:
            out[key] = tf.gather(ex[key], index, axis=axis + 1, batch_dims=1)
    for key in ("bbox", "boxes"):
        if key in ex:
            out[key] = _select(do, _flip_boxes(ex[key], axis), ex[key])
    return out


def _crop(ex, seed, fraction: float):
    """Cuts up to `fraction` of each side per example, resized back; boxes re-expressed."""
    image = ex["image"]
    batch, h, w = tf.shape(image)[0], tf.shape(image)[1], tf.shape(image)[2]
    cuts = _per_example(batch, seed, 0.0, fraction, width=4)
    windows = tf.stack([cuts[:, 0], cuts[:, 1], 1 - cuts[:, 2], 1 - cuts[:, 3]], -1)
    index = tf.range(batch)
    out = dict(ex)
    out["image"] = tf.image.crop_and_resize(image, windows, index, [h, w])
    if "mask" in ex:
        mask = tf.image.crop_and_resize(tf.cast(ex["mask"], tf.float32), windows, index, [h, w],
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
    return out


def augment(batch, seed, settings: dict):
    """Applies the spec's `train.augment` settings to a batch; `seed` is a [2] int tensor."""
    seeds = tf.random.experimental.stateless_split(seed, num=4)
    ex = dict(batch)
    if settings.get("hflip"):  # flips move uint8 pixels: a quarter of the float traffic
        ex = _flip(ex, seeds[0], axis=1)
    if settings.get("vflip"):
        ex = _flip(ex, seeds[1], axis=0)
    ex["image"] = tf.cast(ex["image"], tf.float32)
    if settings.get("crop"):
        ex = _crop(ex, seeds[2], settings["crop"])
    if settings.get("brightness"):
        n = tf.shape(ex["image"])[0]
        delta = _per_example(n, seeds[3], -1.0, 1.0)[:, 0] * settings["brightness"] * 255.0
        ex["image"] = tf.clip_by_value(ex["image"] + tf.reshape(delta, [-1, 1, 1, 1]), 0.0, 255.0)
    return ex
