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

from . import dataset_files, fields
from .fields import FieldError
from .sources import SPLITS, DataError, Source

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
MAX_BAD = 0.01  # unreadable files up to this share are skipped with a note; more is an error


def _images(folder):
    return sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_SUFFIXES))


def inspect_image(path: str, roots=None) -> tuple[str | None, tuple | None]:
    """(why the image cannot be used, or None; its (height, width) when it can).

    The file must resolve inside `roots` (when given) and be a regular file of bounded
    size; its bytes are read once and PIL decodes them in full here, so a bad file is
    named before training instead of failing inside a tf.data map with no file name.
    JPEGs are decoded at reduced size (`draft`), which still reads every byte. A file PIL
    reads but TensorFlow's decode_image does not (a TIFF named .png) is told by its first
    bytes.
    """
    import io

    from PIL import Image
    why = dataset_files.outside(path, roots) if roots else None
    if not why and not _utf8(path):
        why = "the file name is not UTF-8; rename it"
    if why:
        return why, None
    try:
        data = dataset_files.read_bytes(path, "PNG, JPEG, GIF or BMP image",
                                        dataset_files.MAX_IMAGE_BYTES)
    except DataError as exc:
        return str(exc)[len(path) + 2:] if str(exc).startswith(path) else str(exc), None
    if not data:
        return "empty file", None
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
        with Image.open(io.BytesIO(data)) as im:
            size = (im.height, im.width)
            im.draft("RGB", (64, 64))
            im.load()
    except Exception as exc:  # PIL raises many kinds for bad files; each is "unreadable"
        return str(exc).split(" <_io.")[0] or type(exc).__name__, None
    return dataset_files.not_decodable(data, path), size


def screen(folder: str, paths: list, known: dict | None = None,
           pairs: dict | None = None) -> tuple[set, list]:
    """The unusable files among `paths` (skipped) and notes; DataError above MAX_BAD.

    Each must be a decodable image inside `folder`; `known` adds problems found before
    (path -> why, such as a bad row of boxes.csv), and each mask of `pairs` (mask ->
    image) must have its image's size (a mask of another size would be stretched)."""
    known, pairs = known or {}, pairs or {}
    bad, sizes = [], {}
    for p in paths:
        why, sizes[p] = (known[p], None) if p in known else inspect_image(p, [folder])
        if why:
            bad.append((p, why))
    for mask, image in pairs.items():
        if sizes.get(mask) and sizes.get(image) and sizes[mask] != sizes[image]:
            bad.append((mask, f"mask of {_hw(sizes[mask])} for an image of {_hw(sizes[image])}"))
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


def _utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # os.listdir keeps undecodable bytes as surrogates
        return False
    return True


def _hw(size) -> str:
    return f"{size[1]}x{size[0]}"


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
    boxes, known = _read_boxes(box_file, set(names)) if os.path.exists(box_file) else (None, {})
    known = {os.path.join(image_dir, n): why for n, why in known.items()}
    if boxes is not None:  # an image without a row has no box to learn
        known.update({os.path.join(image_dir, n): f"no row in {box_file}" for n in names
                      if n not in boxes and os.path.join(image_dir, n) not in known})
    if not os.path.isdir(mask_dir) and boxes is None:
        raise DataError(f"folder {folder}: images/ needs masks/ (segmentation) or boxes.csv "
                        "(localization, detection) beside it")
    paths, pairs = [os.path.join(image_dir, n) for n in names], {}
    if os.path.isdir(mask_dir):
        pairs = {os.path.join(mask_dir, n): os.path.join(image_dir, n) for n in names
                 if os.path.lexists(os.path.join(mask_dir, n))}
        paths += list(pairs)
    bad, notes = screen(folder, paths, known, pairs)
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


MAX_CLASS_ID = 65_535


def _read_boxes(path: str, names: set) -> tuple[dict, dict]:
    """Rows of boxes.csv per image, and the problem of each image with a bad row (its
    example is then skipped, like an unreadable image). A row naming no image in images/
    is an error of the file."""
    import io
    out: dict = {}
    problems: dict = {}
    text = dataset_files.read_text(path, "boxes.csv", [os.path.dirname(path)])
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for i, row in enumerate(reader, start=1):
            if not row or row[0] == "file":
                continue
            if row[0] not in names:
                raise DataError(f"{path}:{i}: expected file,class,ymin,xmin,ymax,xmax for an "
                                "image in images/")
            try:
                label, box = _box_row(row, f"{path}:{i}")
            except FieldError as exc:
                problems.setdefault(row[0], str(exc))
                continue
            out.setdefault(row[0], ([], []))
            out[row[0]][0].append(box)
            out[row[0]][1].append(label)
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: not a CSV row ({exc})") from None
    return out, problems


def _box_row(row: list, where: str) -> tuple[int, list]:
    if len(row) != 6:
        raise FieldError(where, f"expected 6 values (file,class,ymin,xmin,ymax,xmax), read "
                         f"{len(row)}")
    label = fields.parse_integer(row[1], f"{where}: class", 0, MAX_CLASS_ID)
    box = [fields.parse_number(v, f"{where}: {k}", 0, 1)
           for v, k in zip(row[2:], ("ymin", "xmin", "ymax", "xmax"))]
    if box[2] <= box[0] or box[3] <= box[1]:
        raise FieldError(where, f"box of zero area (ymin, xmin, ymax, xmax = "
                         f"{', '.join(f'{v:g}' for v in box)})")
    return label, box
