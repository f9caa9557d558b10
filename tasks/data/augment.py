"""Task-aware augmentation with stateless random ops: boxes and masks move with the image.

Each example gets its own seed (run seed, epoch, position), so `--deterministic`
runs see identical augmentations, and a resumed run sees what the original saw.
Runs in tf.data, outside the compiled step (some image ops have no XLA kernel).
"""
from __future__ import annotations

import tensorflow as tf


def _flip_boxes(boxes, axis: int):
    """axis 1: left-right (x), axis 0: up-down (y); boxes are (ymin, xmin, ymax, xmax)."""
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    if axis == 1:
        return tf.stack([ymin, 1 - xmax, ymax, 1 - xmin], axis=-1)
    return tf.stack([1 - ymax, xmin, 1 - ymin, xmax], axis=-1)


def _flip(ex, seed, axis: int):
    do = tf.random.stateless_uniform([], seed) < 0.5
    out = dict(ex)
    flip = tf.image.flip_left_right if axis == 1 else tf.image.flip_up_down
    for key in ("image", "mask"):
        if key in ex:
            out[key] = tf.cond(do, lambda k=key: flip(ex[k]), lambda k=key: ex[k])
    for key in ("bbox", "boxes"):
        if key in ex:
            out[key] = tf.cond(do, lambda k=key: _flip_boxes(ex[k], axis), lambda k=key: ex[k])
    return out


def _crop(ex, seed, fraction: float):
    """Cuts up to `fraction` of each side, then resizes back; boxes are re-expressed."""
    shape = tf.shape(ex["image"])
    h, w = shape[0], shape[1]
    cuts = tf.random.stateless_uniform([4], seed, 0.0, fraction)
    top = tf.cast(cuts[0] * tf.cast(h, tf.float32), tf.int32)
    left = tf.cast(cuts[1] * tf.cast(w, tf.float32), tf.int32)
    bottom = h - tf.cast(cuts[2] * tf.cast(h, tf.float32), tf.int32)
    right = w - tf.cast(cuts[3] * tf.cast(w, tf.float32), tf.int32)
    out = dict(ex)
    out["image"] = tf.image.resize(ex["image"][top:bottom, left:right], [h, w])
    if "mask" in ex:
        out["mask"] = tf.image.resize(ex["mask"][top:bottom, left:right], [h, w],
                                      method="nearest")
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    y0, x0 = tf.cast(top, tf.float32) / hf, tf.cast(left, tf.float32) / wf
    sy = hf / tf.cast(bottom - top, tf.float32)
    sx = wf / tf.cast(right - left, tf.float32)
    for key in ("bbox", "boxes"):
        if key in ex:
            b = ex[key]
            moved = tf.stack([(b[..., 0] - y0) * sy, (b[..., 1] - x0) * sx,
                              (b[..., 2] - y0) * sy, (b[..., 3] - x0) * sx], axis=-1)
            out[key] = tf.clip_by_value(moved, 0.0, 1.0)
    return out


def augment(ex, seed, settings: dict):
    """Applies the spec's `train.augment` settings; `seed` is a [2] int tensor."""
    seeds = tf.random.experimental.stateless_split(seed, num=4)
    ex = dict(ex)
    ex["image"] = tf.cast(ex["image"], tf.float32)
    if settings.get("hflip"):
        ex = _flip(ex, seeds[0], axis=1)
    if settings.get("vflip"):
        ex = _flip(ex, seeds[1], axis=0)
    if settings.get("crop"):
        ex = _crop(ex, seeds[2], settings["crop"])
    if settings.get("brightness"):
        delta = tf.random.stateless_uniform([], seeds[3], -1.0, 1.0) * settings["brightness"]
        ex["image"] = tf.clip_by_value(ex["image"] + 255.0 * delta, 0.0, 255.0)
    return ex
