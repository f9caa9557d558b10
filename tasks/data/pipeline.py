"""The input pipeline: prepare -> cache -> shuffle -> augment -> (x, y) -> batch -> prefetch.

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


def normalize(x, input_section: dict):
    """Raw pixel values (0..255) -> model input, as the spec's `input:` section says."""
    x = tf.cast(x, tf.float32)
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
        out = dict(ex)
        image = ex["image"]
        have = image.shape[-1]
        if have == 3 and c == 1:
            image = tf.image.rgb_to_grayscale(image)
        elif have == 1 and c == 3:
            image = tf.image.grayscale_to_rgb(image)
        if image.shape[0] != h or image.shape[1] != w:
            image = tf.cast(tf.clip_by_value(tf.image.resize(image, [h, w]), 0, 255), tf.uint8)
            if "mask" in ex:
                out["mask"] = tf.image.resize(ex["mask"], [h, w], method="nearest")
        out["image"] = tf.ensure_shape(image, [h, w, c])
        return out

    def _to_xy(self, ex):
        x = ex["features"] if "features" in ex else normalize(ex["image"], self.input)
        return x, self.task.targets(ex)

    def train(self, epoch: int, skip_batches: int = 0):
        """One epoch of training batches; `skip_batches` resumes within the epoch."""
        ds = self.prepared("train")
        ds = ds.shuffle(SHUFFLE_BUFFER, seed=self.seed * 1000 + epoch,
                        reshuffle_each_iteration=False)
        if self.augment and "image" in ds.element_spec:
            base = tf.constant([self.seed, epoch], tf.int64)
            ds = ds.enumerate().map(
                lambda i, ex: augment(ex, tf.stack([base[0] * 1_000_003 + base[1], i]),
                                      self.augment),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        ds = ds.map(self._to_xy, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        ds = ds.batch(self.batch_size, drop_remainder=True)
        if skip_batches:
            ds = ds.skip(skip_batches)
        return ds.prefetch(tf.data.AUTOTUNE)

    def eval(self, split: str):
        ds = self.prepared(split).map(self._to_xy, num_parallel_calls=tf.data.AUTOTUNE)
        return ds.batch(self.batch_size).prefetch(tf.data.AUTOTUNE)

    def raw(self, split: str):
        """Prepared canonical examples with the model input added (for task evaluation)."""
        def add_x(ex):
            out = dict(ex)
            out["x"] = self._to_xy(ex)[0]
            return out
        return self.prepared(split).map(add_x).batch(self.batch_size)

    def steps_per_epoch(self) -> int:
        return self.source.sizes.get("train", 0) // self.batch_size
