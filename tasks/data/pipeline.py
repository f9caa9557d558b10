"""The input pipeline: prepare -> cache -> shuffle -> batch -> augment -> (x, y) -> prefetch.

Preparation (resize to the spec's input, channel conversion) is deterministic
and cached; shuffling and augmentation are seeded per epoch, so an epoch's
batches are a pure function of (seed, epoch) and a resumed run can skip to the
exact batch it stopped at.
"""
from __future__ import annotations

import tensorflow as tf

from .augment import augment
from .sources import DataError, Source

SHUFFLE_BUFFER = 10_000
MAX_OBJECTS = 24  # box lists are padded (with -1) to this length so examples batch


def normalize(x, input_section: dict):
    """Raw pixel values (0..255) -> model input, as the spec's `input:` section says."""
    x = tf.cast(x, tf.float32)
    if input_section.get("bgr"):
        x = x[..., ::-1]
    if input_section.get("rescale") is not None:
        x = x * input_section["rescale"]
    if input_section.get("mean") is not None:
        x = x - tf.constant(input_section["mean"], tf.float32)
    if input_section.get("std") is not None:
        x = x / tf.constant(input_section["std"], tf.float32)
    return x


class Pipeline:
    """Batched (x, y) datasets of one source for one task and spec."""

    def __init__(self, source: Source, task, spec, *, batch_size: int, seed: int = 0,
                 augment_settings: dict | None = None, cache: bool = True):
        self.source, self.task, self.spec = source, task, spec
        self.batch_size, self.seed = batch_size, seed
        self.augment = {k: v for k, v in (augment_settings or {}).items() if v}
        self.input = spec.input
        self._prepared = {}
        self._table = None
        self.cache = cache

    def prepared(self, split: str):
        """Resized, channel-converted canonical examples (cached after the first pass)."""
        if split not in self._prepared:
            if split not in self.source.splits:
                raise DataError(f"dataset {self.source.name} has no split {split!r}")
            ds = self.source.splits[split].map(self._prepare, num_parallel_calls=tf.data.AUTOTUNE)
            self._prepared[split] = ds.cache() if self.cache else ds
        return self._prepared[split]

    def _prepare(self, ex):
        if "image" not in ex:
            return ex
        h, w, c = self.input["shape"]
        # Only what the task reads travels on (less to cache, nothing extra to augment).
        out = {k: v for k, v in ex.items()
               if k == "image" or k in self.task.needs or k in self.task.extras}
        if "boxes" in out:
            out.update(_pad_boxes(out["boxes"], out.get("box_labels"),
                                  {k: out[k] for k in ("box_ignore", "box_crowd") if k in out}))
        image = ex["image"]
        have = image.shape[-1]
        if have == 3 and c == 1:
            image = tf.image.rgb_to_grayscale(image)
        elif have == 1 and c == 3:
            image = tf.image.grayscale_to_rgb(image)
        if image.shape[0] != h or image.shape[1] != w:
            image = tf.cast(tf.clip_by_value(tf.image.resize(image, [h, w]), 0, 255), tf.uint8)
            if "mask" in out:
                out["mask"] = tf.image.resize(ex["mask"], [h, w], method="nearest")
        out["image"] = tf.ensure_shape(image, [h, w, c])
        return out

    def _to_xy(self, ex):
        x = ex["features"] if "features" in ex else normalize(ex["image"], self.input)
        y = self.task.targets(ex)
        return x, (x if y is None else y)  # None: the input is the target (autoencoders)

    def train(self, epoch: int, skip_batches: int = 0, worker: int = 0, workers: int = 1,
              replicas: int = 1):
        """One epoch of training batches; `skip_batches` resumes within the epoch.

        The epoch's order is a permutation of the examples drawn from (seed, epoch). With
        several input pipelines (`workers`, one per machine of a cluster) each takes its
        own slices of every global batch: `replicas` consecutive per-replica batches per
        step, for the replicas it feeds. A worker gathers, augments and makes targets of
        its own examples only (the work that repeats every epoch); each example is
        augmented as it would be with one worker (`augment`'s `part`), so the batches do
        not depend on the number of workers. Decoding happens once, in the first epoch
        (every worker keeps the prepared split in memory, `table`)."""
        parts = workers * replicas
        if self.batch_size % parts:
            raise DataError(f"batch {self.batch_size} cannot be split over {parts} replicas")
        per = self.batch_size // parts
        if not self.cache:  # decoding on every pass (a benchmark's reference): one worker
            if parts != 1:
                raise DataError("an uncached pipeline feeds one worker and one replica")
            ds = self.prepared("train").shuffle(SHUFFLE_BUFFER, seed=self.seed * 1000 + epoch,
                                                reshuffle_each_iteration=False)
            ds = ds.batch(self.batch_size, drop_remainder=True).enumerate().skip(skip_batches)
            ds = ds.map(lambda i, ex: (i, tf.constant(0, tf.int64), ex))
        else:
            table = self.table()
            n = int(tf.nest.flatten(table)[0].shape[0])
            steps = n // self.batch_size
            order = tf.random.experimental.stateless_shuffle(
                tf.range(n, dtype=tf.int64), tf.constant([self.seed, epoch], tf.int64))
            order = tf.reshape(order[:steps * self.batch_size], [steps, parts, per])
            mine = order[:, worker * replicas:(worker + 1) * replicas]  # [steps, R, per]
            batch_index = tf.repeat(tf.range(steps, dtype=tf.int64), replicas)
            slice_index = tf.tile(tf.range(worker * replicas, (worker + 1) * replicas,
                                           dtype=tf.int64), [steps])
            ds = tf.data.Dataset.from_tensor_slices(
                (batch_index, slice_index, tf.reshape(mine, [-1, per])))
            if skip_batches:
                ds = ds.skip(skip_batches * replicas)
        run = self.seed * 1_000_003 + epoch
        augmenting = bool(self.augment) and "image" in (
            self.table() if self.cache else ds.element_spec[2])

        def to_xy(i, k, ex):
            if self.cache:  # `ex` is the rows of this slice: gathered here, in the same map
                ex = tf.nest.map_structure(lambda t: tf.gather(t, ex), self.table())
            if augmenting:
                part = (k * per, self.batch_size) if parts > 1 else None
                ex = augment(ex, tf.stack([tf.constant(run, tf.int64), i]), self.augment, part)
            return self._to_xy(ex)
        ds = ds.map(to_xy, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.prefetch(tf.data.AUTOTUNE)

    def table(self):
        """The prepared training split as tensors, examples along the first axis (read and
        decoded once; every field has a fixed shape after `_prepare`)."""
        if self._table is None:
            if "train" not in self.source.splits:
                raise DataError(f"dataset {self.source.name} has no split 'train'")
            # From the uncached examples: the table is the one copy kept in memory.
            prepared = self.source.splits["train"].map(self._prepare,
                                                       num_parallel_calls=tf.data.AUTOTUNE)
            self._table = prepared.batch(2 ** 31 - 1).get_single_element()
        return self._table

    def eval(self, split: str):
        ds = self.prepared(split).batch(self.batch_size)
        return ds.map(self._to_xy, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def prepared_batches(self, split: str):
        """Batches of prepared canonical examples with the model input `x` added."""
        def add_x(ex):
            out = dict(ex)
            out["x"] = self._to_xy(ex)[0]
            return out
        return self.prepared(split).batch(self.batch_size).map(add_x)

    def sample_images(self, split: str, count: int):
        """Up to `count` prepared raw images (0..255) of a split, e.g. for int8 calibration."""
        ds = self.prepared(split).take(count).batch(count)
        return next(iter(ds))["image"]

    def steps_per_epoch(self) -> int:
        return self.source.sizes.get("train", 0) // self.batch_size


def _pad_boxes(boxes, labels, flags=None):
    """Pads (or cuts) a box list to MAX_OBJECTS rows; padding is -1, its labels -1, its
    flags (`box_ignore`, `box_crowd`) false."""
    n = tf.minimum(tf.shape(boxes)[0], MAX_OBJECTS)
    pad = MAX_OBJECTS - n
    out = {"boxes": tf.pad(boxes[:n], [[0, pad], [0, 0]], constant_values=-1.0)}
    if labels is not None:
        out["box_labels"] = tf.pad(labels[:n], [[0, pad]], constant_values=-1)
    for key, value in (flags or {}).items():
        out[key] = tf.pad(value[:n], [[0, pad]], constant_values=False)
    return out
