"""Image folders as a source.

Layouts:
  FOLDER/<class>/*.png                      classification; split 80/10/10 by a hash of the
                                            file name (stable as files are added)
  FOLDER/{train,validation,test}/<class>/*  classification with explicit splits
  FOLDER/images/*.png + FOLDER/masks/*.png  segmentation: masks of the same names, one
                                            class index per pixel (0 = background)
  FOLDER/images/* + FOLDER/boxes.csv        localization/detection: rows of
                                            file,class,ymin,xmin,ymax,xmax (fractions)
"""
from __future__ import annotations

import csv
import hashlib
import os

import tensorflow as tf

from .sources import SPLITS, DataError, Source

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
MAX_BAD = 0.01  # unreadable files up to this share are skipped with a note; more is an error


def _images(folder):
    return sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_SUFFIXES))


def unreadable(path: str) -> str | None:
    """Why an image file cannot be decoded (empty, truncated, not an image), or None.

    PIL reads it in full once here, so a bad file is named before training instead of
    failing inside a tf.data map with no file name. JPEGs are decoded at reduced size
    (`draft`), which still reads every byte.
    """
    from PIL import Image
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            im.draft("RGB", (64, 64))
            im.load()
    except Exception as exc:  # PIL raises many kinds for bad files; each is "unreadable"
        text = str(exc).split(" '")[0] or type(exc).__name__
        return "empty file" if os.path.getsize(path) == 0 else text
    return None


def screen(folder: str, paths: list) -> tuple[set, list]:
    """The unreadable files among `paths` (skipped) and notes; DataError above MAX_BAD."""
    bad = [(p, why) for p in paths for why in [unreadable(p)] if why]
    if not bad:
        return set(), []
    shown = "; ".join(f"{p}: {why}" for p, why in bad[:10])
    more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
    share = len(bad) / len(paths)
    if share > MAX_BAD:
        raise DataError(f"folder {folder}: {len(bad)} of {len(paths)} images cannot be read "
                        f"({share:.1%}, over {MAX_BAD:.0%}): {shown}{more}")
    return {p for p, _ in bad}, [f"skipped {len(bad)} unreadable image(s) of {len(paths)} in "
                                 f"{folder}: {shown}{more}"]


def _split_of(name: str) -> str:
    h = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 10
    return "train" if h < 8 else "validation" if h == 8 else "test"


def _decode(path):
    return tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)


def load_folder(folder: str) -> Source:
    if os.path.isdir(os.path.join(folder, "images")):
        return _dense_labels(folder)
    return _classes(folder)


def _classes(folder: str) -> Source:
    explicit = all(os.path.isdir(os.path.join(folder, s)) for s in ("train", "validation"))
    roots = {s: os.path.join(folder, s) for s in SPLITS} if explicit else None
    class_dir = roots["train"] if explicit else folder
    names = tuple(sorted(d for d in os.listdir(class_dir)
                         if os.path.isdir(os.path.join(class_dir, d))))
    if not names:
        raise DataError(f"folder {folder}: no class subfolders (expected {folder}/<class>/*.png)")
    files = {s: [] for s in SPLITS}
    for label, name in enumerate(names):
        if explicit:
            for s in SPLITS:
                d = os.path.join(roots[s], name)
                if os.path.isdir(d):
                    files[s] += [(os.path.join(d, f), label) for f in _images(d)]
        else:
            d = os.path.join(folder, name)
            for f in _images(d):
                files[_split_of(f"{name}/{f}")].append((os.path.join(d, f), label))
    if not files["train"]:
        raise DataError(f"folder {folder}: no images found ({', '.join(IMAGE_SUFFIXES)})")
    bad, notes = screen(folder, [p for items in files.values() for p, _ in items])
    files = {s: [(p, lab) for p, lab in items if p not in bad] for s, items in files.items()}
    splits = {}
    for s, items in files.items():
        if not items:
            continue
        paths = tf.constant([p for p, _ in items])
        labels = tf.constant([lab for _, lab in items], tf.int64)
        ds = tf.data.Dataset.from_tensor_slices((paths, labels))
        splits[s] = ds.map(lambda p, y: {"image": _decode(p), "label": y},
                           num_parallel_calls=tf.data.AUTOTUNE)
    return Source(folder, splits, names, None, sizes={s: len(v) for s, v in files.items()},
                  notes=notes)


def _dense_labels(folder: str) -> Source:
    image_dir = os.path.join(folder, "images")
    names = _images(image_dir)
    mask_dir = os.path.join(folder, "masks")
    box_file = os.path.join(folder, "boxes.csv")
    boxes = _read_boxes(box_file, set(names)) if os.path.exists(box_file) else None
    if not os.path.isdir(mask_dir) and boxes is None:
        raise DataError(f"folder {folder}: images/ needs masks/ (segmentation) or boxes.csv "
                        "(localization, detection) beside it")
    paths = [os.path.join(image_dir, n) for n in names]
    if os.path.isdir(mask_dir):
        paths += [os.path.join(mask_dir, n) for n in names
                  if os.path.exists(os.path.join(mask_dir, n))]
    bad, notes = screen(folder, paths)
    names = [n for n in names if os.path.join(image_dir, n) not in bad
             and os.path.join(mask_dir, n) not in bad]
    splits, sizes = {}, {}
    for s in SPLITS:
        chosen = [n for n in names if _split_of(n) == s]
        sizes[s] = len(chosen)
        if not chosen:
            continue
        data = {"path": [os.path.join(image_dir, n) for n in chosen]}
        if os.path.isdir(mask_dir):
            missing = [n for n in chosen if not os.path.exists(os.path.join(mask_dir, n))]
            if missing:
                raise DataError(f"folder {folder}, split {s}, field mask: no mask for "
                                f"{missing[0]} in masks/")
            data["mask_path"] = [os.path.join(mask_dir, n) for n in chosen]
        if boxes is not None:
            data["boxes"] = tf.ragged.constant([boxes[n][0] for n in chosen], ragged_rank=1,
                                               inner_shape=(4,), dtype=tf.float32)
            data["box_labels"] = tf.ragged.constant([boxes[n][1] for n in chosen], tf.int64)
        splits[s] = tf.data.Dataset.from_tensor_slices(data).map(
            _dense_example, num_parallel_calls=tf.data.AUTOTUNE)
    classes = tuple(sorted({c for _, (_, labs) in (boxes or {}).items() for c in labs}))
    return Source(folder, splits, tuple(str(c) for c in classes), None, sizes=sizes,
                  notes=notes)


def _dense_example(item):
    ex = {"image": _decode(item["path"])}
    if "mask_path" in item:
        mask = tf.io.decode_image(tf.io.read_file(item["mask_path"]), channels=1,
                                  expand_animations=False)
        ex["mask"] = tf.cast(mask, tf.uint8)
    if "boxes" in item:
        b = item["boxes"].to_tensor() if hasattr(item["boxes"], "to_tensor") else item["boxes"]
        labels = item["box_labels"]
        labels = labels.to_tensor() if hasattr(labels, "to_tensor") else labels
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        main = tf.argmax(area, output_type=tf.int32)
        ex.update(boxes=b, box_labels=labels, bbox=tf.gather(b, main),
                  label=tf.gather(labels, main))
    return ex


def _read_boxes(path: str, names: set) -> dict:
    out: dict = {}
    with open(path, newline="") as fh:
        for i, row in enumerate(csv.reader(fh), start=1):
            if not row or row[0] == "file":
                continue
            if len(row) != 6 or row[0] not in names:
                raise DataError(f"{path}:{i}: expected file,class,ymin,xmin,ymax,xmax for an "
                                "image in images/")
            try:
                label, box = int(row[1]), [float(v) for v in row[2:]]
            except ValueError:
                raise DataError(f"{path}:{i}: class must be an integer and the box numbers") \
                    from None
            out.setdefault(row[0], ([], []))
            out[row[0]][0].append(box)
            out[row[0]][1].append(label)
    return out
