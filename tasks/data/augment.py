"""Task-aware augmentation of whole batches with stateless random ops.

Boxes and masks move with their images. Vectorised over the batch: one crop-and-
resize, which also does the flips when there is a crop, or else one gather per flip.
A per-example map costs more than the small CNNs it feeds on a 2-core machine, and
the pipeline shares those cores with the training step. The random numbers come from
(run seed, epoch) and the example's place in the epoch (`draws`), so `--deterministic`
runs see identical augmentations and a resumed run sees what the original saw. Runs in
tf.data, outside the compiled step (some image ops have no XLA kernel).

Boxes are (ymin, xmin, ymax, xmax) in [0, 1]; padded boxes (all -1) stay padded.
"""
from __future__ import annotations

import tensorflow as tf


# Columns of the per-example draws (`draws`): one uniform in [0, 1) per random choice.
HFLIP, VFLIP, CROP, BRIGHTNESS = 0, 1, slice(2, 6), 6
DRAWS = 7


def draws(count, seed):
    """Every random number `augment` uses for `count` examples, [count, DRAWS], from a
    [2] int seed. A pipeline draws those of a whole epoch at once and hands each call
    the rows of its examples: an example's augmentation depends on its place in the
    epoch only, not on how the epoch is cut into calls or shared among workers."""
    return tf.random.stateless_uniform([count, DRAWS], seed)


def _select(do, a, b):
    """Per-example choice between two batched tensors of any rank."""
    shape = tf.concat([tf.shape(do)[:1], tf.ones([tf.rank(a) - 1], tf.int32)], 0)
    return tf.where(tf.reshape(do, shape), a, b)


def _flip_boxes(boxes, axis: int):
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    flipped = (tf.stack([ymin, 1 - xmax, ymax, 1 - xmin], -1) if axis == 1
               else tf.stack([1 - ymax, xmin, 1 - ymin, xmax], -1))
    return tf.where(boxes < 0, boxes, flipped)  # padding stays -1


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


def _crop(ex, cuts, fraction: float, flips: dict):
    """Cuts up to `fraction` of each side per example, resized back; boxes re-expressed.

    `flips` (axis -> which examples) are flips still to apply to the pixels: sampling a
    window from its far edge to its near one (1 - x1 to 1 - x2) is the crop of the
    flipped image, so flip and crop cost one resampling pass.
    """
    image = ex["image"]
    batch, h, w = tf.shape(image)[0], tf.shape(image)[1], tf.shape(image)[2]
    cuts = cuts * fraction  # [B, 4] in [0, fraction): what each side loses
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


def augment(batch, random, settings: dict):
    """Applies the spec's `train.augment` settings to a batch; `random` is the batch's
    rows of `draws` ([B, DRAWS])."""
    ex = dict(batch)
    crop = settings.get("crop")
    flips = {}  # with a crop, the pixels are flipped by the crop's resampling
    for key, axis, column in (("hflip", 1, HFLIP), ("vflip", 0, VFLIP)):
        if settings.get(key):
            do = random[:, column] < 0.5
            if crop:
                flips[axis] = do
                ex = _flip_boxes_of(ex, do, axis)
            else:  # flips move uint8 pixels: a quarter of the float traffic
                ex = _flip(ex, do, axis)
    # Cast first: crop_and_resize's float32 kernel is faster than its uint8 one (1.7 ms
    # against 2.3 ms for 64 images of 64x64x3 on one core), the cast included.
    ex["image"] = tf.cast(ex["image"], tf.float32)
    if crop:
        ex = _crop(ex, random[:, CROP], crop, flips)
    if settings.get("brightness"):
        delta = (random[:, BRIGHTNESS] * 2 - 1) * settings["brightness"] * 255.0
        ex["image"] = tf.clip_by_value(ex["image"] + tf.reshape(delta, [-1, 1, 1, 1]), 0.0, 255.0)
    return ex
