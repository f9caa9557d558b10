"""YOLO (Ultralytics layout): `data.yaml` with `names` and `train`/`val`/`test`, images
in `images/...` and one `labels/....txt` per image with `class cx cy w h` (fractions).

A split in `data.yaml` is a folder of images (relative to `path:` or to the file) or a
`.txt` list of image paths; each image's labels are found by replacing the last
`images` folder in its path by `labels`. An image without a labels file is an image
with no objects (Ultralytics' background images) and is reported as such; a line of
polygon points (`class x1 y1 x2 y2 ...`, YOLO segmentation) is read as its box.
"""
from __future__ import annotations

import os

import yaml

from .annotations import Annotated, Problem, Record, check_objects
from .folder import IMAGE_SUFFIXES
from .sources import DataError

SPLIT_KEYS = (("train", "train"), ("val", "validation"), ("test", "test"))


def find(root: str) -> str | None:
    for name in ("data.yaml", "data.yml", "dataset.yaml"):
        if os.path.isfile(os.path.join(root, name)):
            return os.path.join(root, name)
    return None


def read(root: str) -> Annotated:
    path = find(root)
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise DataError(f"{path}{at}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(doc, dict) or "names" not in doc:
        raise DataError(f"{path}: needs names: (the class names) and train:/val: folders")
    names = doc["names"]
    if isinstance(names, dict):
        if sorted(names) != list(range(len(names))):
            raise DataError(f"{path}: names as a mapping needs the keys 0..{len(names) - 1}")
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list) or not names:
        raise DataError(f"{path}: names must be a list (or a 0.. mapping) of class names")
    base = os.path.join(root, doc.get("path") or "") if not os.path.isabs(
        str(doc.get("path") or "")) else doc["path"]
    ann = Annotated("YOLO", root, {}, tuple(str(n) for n in names))
    for key, split in SPLIT_KEYS:
        value = doc.get(key)
        if value is None:
            continue
        for entry in value if isinstance(value, list) else [value]:
            where = os.path.normpath(os.path.join(base, str(entry)))
            if not os.path.exists(where):
                raise DataError(f"{path}: {key}: {entry!r} names {where}, which does not exist")
            for image in _images(where):
                record = _record(image, ann)
                if record is not None:
                    ann.splits.setdefault(split, []).append(record)
    if "train" not in ann.splits:
        found = "; ".join(str(p) for p in ann.problems[:3])
        raise DataError(f"{path}: no training images" + (f": {found}" if found else
                                                           " (train: names no images)"))
    if ann.unlabelled:
        shown = ", ".join(ann.unlabelled[:3]) + (", ..." if len(ann.unlabelled) > 3 else "")
        ann.notes.append(f"{len(ann.unlabelled)} image(s) without a labels file, read as "
                         f"images without objects: {shown}")
    return ann


def _images(where: str) -> list[str]:
    if os.path.isfile(where):  # a list of image paths, relative to the list's folder
        folder = os.path.dirname(where)
        with open(where, encoding="utf-8") as fh:
            return [os.path.normpath(os.path.join(folder, ln.strip())) for ln in fh if ln.strip()]
    out = []
    for folder, _, files in sorted(os.walk(where)):
        out += [os.path.join(folder, f) for f in sorted(files)
                if f.lower().endswith(IMAGE_SUFFIXES)]
    return out


def label_path(image: str) -> str:
    head, sep, tail = image.rpartition(f"{os.sep}images{os.sep}")
    stem = os.path.splitext(os.path.basename(image))[0]
    folder = os.path.join(head, "labels", os.path.dirname(tail)) if sep else os.path.dirname(image)
    return os.path.join(folder, stem + ".txt")


def _record(image: str, ann: Annotated) -> Record | None:
    labels = label_path(image)
    if not os.path.exists(labels):
        ann.unlabelled.append(image)
        return Record(image, [], [])
    boxes, classes = [], []
    with open(labels, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts:
                continue
            try:
                cls, values = int(parts[0]), [float(v) for v in parts[1:]]
            except ValueError:
                ann.problems.append(Problem(f"{labels}:{n}", "expected class cx cy w h "
                                            f"(numbers), read {line.strip()[:60]!r}", image))
                return None
            if len(values) == 4:
                cx, cy, w, h = values
                box = [cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2]
            elif len(values) >= 6 and len(values) % 2 == 0:  # a polygon: its box
                xs, ys = values[0::2], values[1::2]
                box = [min(ys), min(xs), max(ys), max(xs)]
            else:
                ann.problems.append(Problem(f"{labels}:{n}", f"expected 5 values (class cx cy "
                                            f"w h), read {len(parts)}", image))
                return None
            boxes.append(box)
            classes.append(cls)
    record = Record(image, boxes, classes)
    return record if check_objects(ann, record, labels) else None
