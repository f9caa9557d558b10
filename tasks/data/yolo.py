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

from builder.untrusted import inside

from . import data_yaml, fields
from .annotations import Annotated, Problem, Record, check_objects
from .dataset_files import outside, read_text
from .fields import FieldError
from .folder import IMAGE_SUFFIXES, MAX_CLASS_ID
from .sources import DataError

SPLIT_KEYS = (("train", "train"), ("val", "validation"), ("test", "test"))


def find(root: str) -> str | None:
    for name in ("data.yaml", "data.yml", "dataset.yaml"):
        if os.path.isfile(os.path.join(root, name)):
            return os.path.join(root, name)
    return None


def read(root: str) -> Annotated:
    path = find(root)
    doc, marks = data_yaml.load(read_text(path, "data.yaml", [root]), path)
    if not isinstance(doc, dict) or "names" not in doc:
        raise DataError(f"{path}: needs names: (the class names) and train:/val: folders")
    ann = Annotated("YOLO", root, {}, _names(doc["names"], path, marks))
    base = _base(root, doc.get("path"), marks.get("path", path))
    ann.roots = [root] if inside(base, [root]) else [root, base]
    for key, split in SPLIT_KEYS:
        value = doc.get(key)
        if value is None:
            continue
        for i, entry in enumerate(value if isinstance(value, list) else [value]):
            at = marks.get(f"{key}[{i}]" if isinstance(value, list) else key, path)
            where = os.path.normpath(os.path.join(base, fields.text(entry, f"{at}: {key}")))
            if outside(where, ann.roots):
                raise DataError(f"{path}: {key}: {entry!r} {outside(where, ann.roots)}; name "
                                "a folder under the dataset (or under path:)")
            if not os.path.exists(where):
                raise DataError(f"{path}: {key}: {entry!r} names {where}, which does not exist")
            for image in _images(where, ann.roots):
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


def _names(names, path: str, marks: dict) -> tuple:
    """The class names: a list, or a mapping of 0..n-1, of strings."""
    if isinstance(names, dict):
        if set(names) != set(range(len(names))) or any(isinstance(k, bool) for k in names):
            raise DataError(f"{marks.get('names', path)}: names as a mapping needs the keys "
                            f"0..{len(names) - 1}")
        names = [names[i] for i in range(len(names))]
        keys = [f"names.{i}" for i in range(len(names))]
    elif isinstance(names, list):
        keys = [f"names[{i}]" for i in range(len(names))]
    else:
        keys = []
    if not isinstance(names, list) or not names:
        raise DataError(f"{marks.get('names', path)}: names must be a list (or a 0.. "
                        "mapping) of class names")
    return tuple(fields.text(n, f"{marks.get(k, path)}: {k}") for n, k in zip(names, keys))


def _base(root: str, given, where: str) -> str:
    """The folder split entries are relative to: `path:` (relative to the dataset folder),
    else the dataset folder. A `path:` outside it is a root of its own, which `kspec
    data` prints."""
    if given is None:
        return root
    given = fields.text(given, f"{where}: path")
    return os.path.normpath(given if os.path.isabs(given) else os.path.join(root, given))


def _images(where: str, roots: list) -> list[str]:
    if os.path.isfile(where):  # a list of image paths, relative to the list's folder
        folder = os.path.dirname(where)
        return [os.path.normpath(os.path.join(folder, ln.strip()))
                for ln in read_text(where, "image list", roots).splitlines() if ln.strip()]
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
    why = outside(image, ann.allowed_roots()) or outside(labels, ann.allowed_roots())
    if why:  # never opened: a problem of this example, like an unreadable image
        ann.problems.append(Problem(image, why, image))
        return None
    if not os.path.lexists(labels):
        ann.unlabelled.append(image)
        return Record(image, [], [])
    boxes, classes = [], []
    try:
        text = read_text(labels, "YOLO labels file", ann.allowed_roots())
        for n, line in enumerate(text.splitlines(), start=1):
            parts = line.split()
            if parts:
                cls, box = _label_line(parts, f"{labels}:{n}")
                boxes.append(box)
                classes.append(cls)
    except FieldError as exc:
        ann.problems.append(Problem(exc.where, exc.what, image))
        return None
    except DataError as exc:  # the labels file itself: not UTF-8, a folder, too large
        at, _, what = str(exc).removeprefix(labels).partition(": ")
        ann.problems.append(Problem(labels + at, what, image))
        return None
    record = Record(image, boxes, classes)
    return record if check_objects(ann, record, labels) else None


def _label_line(parts: list, where: str) -> tuple[int, list]:
    """(class, box) of one `class cx cy w h` line (or `class x1 y1 x2 y2 ...`, a polygon:
    its box)."""
    line = " ".join(parts)
    try:
        cls = fields.parse_integer(parts[0], where, 0, MAX_CLASS_ID)
        values = [fields.parse_number(v, where) for v in parts[1:]]
    except FieldError:
        raise FieldError(where, "expected class cx cy w h (a class from 0 and finite numbers), "
                         f"read {line[:60]!r}") from None
    if len(values) == 4:
        cx, cy, w, h = values
        return cls, [cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2]
    if len(values) >= 6 and len(values) % 2 == 0:
        xs, ys = values[0::2], values[1::2]
        return cls, [min(ys), min(xs), max(ys), max(xs)]
    raise FieldError(where, f"expected 5 values (class cx cy w h), read {len(parts)}")
