"""TFDS catalogue datasets mapped to the canonical example format.

Each adapter names the TFDS dataset, how its splits are cut into train /
validation / test, and a function from its features to canonical fields.
Unlisted image datasets with `image` and `label` features use the generic one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import tensorflow as tf

from .canonical import largest_box_index


@dataclass(frozen=True)
class Adapter:
    splits: dict          # canonical split -> TFDS split expression
    to_canonical: Callable
    mask_classes: int = 0  # classes in the semantic mask, background included


def _image_label(ex):
    return {"image": ex["image"], "label": tf.cast(ex["label"], tf.int64)}


def _objects(ex):
    boxes = tf.cast(ex["objects"]["bbox"], tf.float32)
    labels = tf.cast(ex["objects"]["label"], tf.int64)
    n = tf.minimum(tf.shape(boxes)[0], tf.shape(labels)[0])  # equal in real data
    boxes, labels = boxes[:n], labels[:n]
    main = largest_box_index(boxes)
    return {"image": ex["image"], "boxes": boxes, "box_labels": labels,
            "bbox": tf.gather(boxes, main), "label": tf.gather(labels, main)}


def _pet(ex):
    # TFDS trimaps: 1 pet, 2 background, 3 border -> 0 background, 1 pet, 2 border.
    trimap = ex["segmentation_mask"]
    mask = tf.where(trimap == 1, 1, tf.where(trimap == 3, 2, 0))
    return {"image": ex["image"], "label": tf.cast(ex["label"], tf.int64),
            "mask": tf.cast(mask, tf.uint8)}


def _shapes(ex):
    out = _objects(ex)
    out.update(label=tf.cast(ex["label"], tf.int64), bbox=tf.cast(ex["bbox"], tf.float32),
               mask=ex["segmentation_mask"])
    return out


_SPLIT_TRAIN_TEST = {"train": "train[:90%]", "validation": "train[90%:]", "test": "test"}
ADAPTERS = {
    "mnist": Adapter(_SPLIT_TRAIN_TEST, _image_label),
    "fashion_mnist": Adapter(_SPLIT_TRAIN_TEST, _image_label),
    "cifar10": Adapter(_SPLIT_TRAIN_TEST, _image_label),
    "cifar100": Adapter(_SPLIT_TRAIN_TEST, _image_label),
    "oxford_iiit_pet": Adapter(_SPLIT_TRAIN_TEST, _pet, mask_classes=3),
    "voc": Adapter({"train": "train", "validation": "validation", "test": "test"}, _objects),
    "shapes": Adapter({"train": "train", "validation": "validation", "test": "test"}, _shapes,
                      mask_classes=5),
}


def adapter_for(name: str, info) -> Adapter:
    """The adapter of a dataset, or the generic image/label one if its features allow."""
    base = name.split("/")[0]
    if base in ADAPTERS:
        return ADAPTERS[base]
    features = info.features
    if "image" in features and "label" in features:
        splits = set(info.splits)
        cut = (_SPLIT_TRAIN_TEST if "validation" not in splits
               else {"train": "train", "validation": "validation",
                     "test": "test" if "test" in splits else "validation"})
        return Adapter(cut, _image_label)
    raise ValueError(f"dataset {name!r} has no `image` and `label` features and no kspec "
                     f"adapter; features: {', '.join(features.keys())}")
