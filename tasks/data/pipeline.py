"""The input pipeline. Training: prepare -> table in memory -> the epoch's permutation ->
gather and augment a worker's slices -> (x, y) -> prefetch. Evaluation: prepare -> cache
-> batch -> (x, y).

Preparation (resize to the spec's input, channel conversion) is deterministic and done
once; the permutation and augmentation are seeded per epoch, so an epoch's batches are a
pure function of (seed, epoch) and a resumed run can skip to the exact batch it stopped
at.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from .augment import augment, draws
from .sources import DataError, Source

CALL_BYTES = 2 ** 20  # image bytes per call of the training pipeline (whole batches, >= 1)
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
                 augment_settings: dict | None = None, cache: bool = True,
                 shares_cores: bool = False):
        """`shares_cores`: the training step runs on the same CPU cores (no GPU or TPU).
        The per-epoch work then runs on one thread, without tf.data's autotuning, whose
        extra threads take cores from the step: LeNet-5 on 2 cores trained at 0.90 of
        its in-memory rate against 0.88 (means of 8 alternated rounds); one thread
        still prepares about 40,000 LeNet-5 or 19,000 64x64 RGB images a second, more
        than such a CPU trains."""
        self.source, self.task, self.spec = source, task, spec
        self.batch_size, self.seed = batch_size, seed
        self.augment = {k: v for k, v in (augment_settings or {}).items() if v}
        self.input = spec.input
        self._prepared = {}
        self._table = None
        self.cache = cache
        self.shares_cores = shares_cores

    def prepared(self, split: str, worker: int = 0, workers: int = 1):
        """Resized, channel-converted canonical examples (cached after the first pass);
        with several `workers`, every `workers`-th example from the `worker`-th on."""
        key = (split, worker, workers)
        if key not in self._prepared:
            if split not in self.source.splits:
                raise DataError(f"dataset {self.source.name} has no split {split!r}")
            ds = self.source.splits[split]
            if workers > 1:  # before decoding: a worker decodes its own examples only
                ds = ds.shard(workers, worker)
            ds = ds.map(self._prepare, num_parallel_calls=tf.data.AUTOTUNE)
            self._prepared[key] = ds.cache() if self.cache else ds
        return self._prepared[key]

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
        augmented as it would be with one worker (`augment.draws`), so the batches do
        not depend on the number of workers. Decoding happens once, in the first epoch
        (every worker keeps the prepared split in memory, `table`).

        A call prepares up to `CALL_BYTES` of a worker's pixels in whole per-replica
        batches (at least one; 85 images of 64x64x3 make a megabyte), not one slice: each call has a fixed cost
        (about 0.15 ms, measured on a 2-core CPU), which with a call per slice every
        worker would pay per step however small its slice, while larger calls outgrow
        the CPU's caches (64x64x3 images: 0.26 s of CPU an epoch at 64 a call, 0.30 s at
        256)."""
        parts = workers * replicas
        if self.batch_size % parts:
            raise DataError(f"batch {self.batch_size} cannot be split over {parts} replicas")
        per = self.batch_size // parts
        table = self.table()
        pixels = int(np.prod(table["image"].shape[1:])) if "image" in table else 1
        chunk = max(1, CALL_BYTES // pixels // (per * replicas))  # global batches per call
        n = int(tf.nest.flatten(table)[0].shape[0])
        steps = n // self.batch_size
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), tf.constant([self.seed, epoch], tf.int64))
        order = tf.reshape(order[:steps * self.batch_size], [steps, parts, per])
        mine = order[:, worker * replicas:(worker + 1) * replicas]  # [steps, R, per]
        # The epoch's random numbers, one row per example in the order of the global batches.
        random = draws(max(steps, 1) * self.batch_size,
                       tf.constant([self.seed * 1_000_003 + epoch, 7], tf.int64))
        augmenting = bool(self.augment) and "image" in table

        def to_xy(first):
            """Batches first, first + 1, ... (this worker's slices of them) as (x, y)."""
            rows = tf.reshape(mine[first:first + chunk], [-1])
            ex = tf.nest.map_structure(lambda t: tf.gather(t, rows), table)
            if augmenting:  # each example's place in the epoch: batch b, slice r, position j
                k = tf.shape(rows, out_type=tf.int64)[0] // (per * replicas)
                b, r, j = tf.meshgrid(tf.range(k, dtype=tf.int64) + first,
                                      tf.range(worker * replicas, (worker + 1) * replicas,
                                               dtype=tf.int64),
                                      tf.range(per, dtype=tf.int64), indexing="ij")
                place = tf.reshape(b * self.batch_size + r * per + j, [-1])
                ex = augment(ex, tf.gather(random, place), self.augment)
            x, y = self._to_xy(ex)
            # One element per replica batch, in the order steps then replicas.
            return tf.nest.map_structure(
                lambda t: tf.reshape(t, tf.concat([[-1, per], tf.shape(t)[1:]], 0)), (x, y))
        ds = tf.data.Dataset.range(skip_batches, steps, chunk)
        ds = ds.map(to_xy, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).unbatch()
        ds = ds.prefetch(tf.data.AUTOTUNE)
        options = tf.data.Options()
        # tf.data's default graph rewrites serialize the dataset's graph at every iterator,
        # captured tensors included: each epoch would copy the whole table (74 MB of
        # 64x64 images: 0.05 s of CPU on a 2-core machine, growing with the split).
        # Nothing here gains from them (the map, unbatch and prefetch are already what
        # they would fuse into).
        options.experimental_optimization.apply_default_optimizations = False
        if self.shares_cores:
            options.threading.private_threadpool_size = 1
            options.threading.max_intra_op_parallelism = 1
            options.autotune.enabled = False
        return ds.with_options(options)

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

    def eval(self, split: str, worker: int = 0, workers: int = 1):
        """Batches (x, y) of a split, or of a worker's share of it (`prepared`)."""
        ds = self.prepared(split, worker, workers).batch(self.batch_size)
        return ds.map(self._to_xy, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def prepared_batches(self, split: str, worker: int = 0, workers: int = 1):
        """Batches of prepared canonical examples with the model input `x` added."""
        def add_x(ex):
            out = dict(ex)
            out["x"] = self._to_xy(ex)[0]
            return out
        return self.prepared(split, worker, workers).batch(self.batch_size).map(add_x)

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
