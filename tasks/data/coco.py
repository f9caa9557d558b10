"""COCO detection annotations: `annotations/instances_*.json` (or one `.json` beside an
images folder).

Category ids are sparse in COCO (1..90 for 80 classes): they are mapped to contiguous
classes in id order, names kept. `iscrowd` objects are kept for evaluation (ignored, and
matched by the share of a detection inside them) and are not training targets.
Segmentations, polygons or run-length encoded, become a semantic mask (class + 1, 0 is
background) and an instance mask (object index + 1).
"""
from __future__ import annotations

import glob
import json
import os

import numpy as np

from .annotations import Annotated, Problem, Record, check_objects, split_by_hash
from .sources import DataError

SPLIT_WORDS = (("train", "train"), ("val", "validation"), ("test", "test"))


def find(root: str) -> list[str]:
    """The annotation files of a COCO layout under `root` (empty when it is not one)."""
    files = sorted(glob.glob(os.path.join(root, "annotations", "instances_*.json")))
    if files:
        return files
    single = sorted(glob.glob(os.path.join(root, "*.json")))
    if len(single) == 1 and os.path.isdir(os.path.join(root, "images")):
        return single
    return []


def split_of(path: str) -> str | None:
    stem = os.path.basename(path)[len("instances_"):] if os.path.basename(path).startswith(
        "instances_") else ""
    for word, split in SPLIT_WORDS:
        if stem.startswith(word):
            return split
    return None


def read(root: str) -> Annotated:
    files = find(root)
    ann = Annotated("COCO", root, {}, ())
    docs = [(f, _load(f)) for f in files]
    categories = {}
    for f, doc in docs:
        for i, c in enumerate(doc.get("categories") or []):
            if not isinstance(c, dict) or not isinstance(c.get("id"), int) or "name" not in c:
                raise DataError(f"{f}: categories[{i}] needs an integer id and a name")
            categories.setdefault(c["id"], str(c["name"]))
    if not categories:
        raise DataError(f"{files[0]}: no categories")
    ids = sorted(categories)
    ann.class_names = tuple(categories[i] for i in ids)
    index = {cid: k for k, cid in enumerate(ids)}
    ann.has_masks = any("segmentation" in a for _, doc in docs for a in doc.get("annotations", [])
                        if isinstance(a, dict))
    for f, doc in docs:
        fixed = split_of(f) if len(docs) > 1 or split_of(f) else None
        for split, record in _records(f, doc, root, index, ann):
            ann.splits.setdefault(fixed or split, []).append(record)
    return ann


def _load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise DataError(f"{path}: a COCO file is an object with images, annotations and "
                        "categories")
    return doc


def _image_path(root: str, ann_file: str, name: str) -> str:
    stem = os.path.splitext(os.path.basename(ann_file))[0]
    folder = stem[len("instances_"):] if stem.startswith("instances_") else ""
    for candidate in (os.path.join(root, folder, name), os.path.join(root, "images", folder, name),
                      os.path.join(root, "images", name), os.path.join(root, name)):
        if os.path.exists(candidate):
            return candidate
    return os.path.join(root, "images", name)


def _records(path, doc, root, index, ann):
    images = {}
    for i, im in enumerate(doc["images"]):
        try:
            images[im["id"]] = (im["file_name"], int(im["height"]), int(im["width"]))
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{path}: images[{i}] needs id, file_name, height and width") from None
    objects = {image_id: [] for image_id in images}
    for i, a in enumerate(doc.get("annotations") or []):
        where = f"{path}: annotations[{i}]"
        if not isinstance(a, dict) or a.get("image_id") not in images:
            image_id = a.get("image_id") if isinstance(a, dict) else a
            ann.problems.append(Problem(where, f"image_id {image_id!r} is not in images "
                                               "(labels without an image)"))
            continue
        name = images[a["image_id"]][0]
        if a.get("category_id") not in index:
            ann.problems.append(Problem(where, f"category_id {a.get('category_id')!r} is not "
                                               "one of the categories",
                                        _image_path(root, path, name)))
            continue
        bbox = a.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4
                and all(isinstance(v, (int, float)) for v in bbox)):
            ann.problems.append(Problem(where, "bbox must be [x, y, width, height]",
                                        _image_path(root, path, name)))
            continue
        objects[a["image_id"]].append((i, a))
    for image_id, (name, h, w) in images.items():
        found = objects[image_id]
        boxes = [[a["bbox"][1] / h, a["bbox"][0] / w, (a["bbox"][1] + a["bbox"][3]) / h,
                  (a["bbox"][0] + a["bbox"][2]) / w] for _, a in found]
        crowd = [bool(a.get("iscrowd", 0)) for _, a in found]
        record = Record(_image_path(root, path, name), boxes,
                        [index[a["category_id"]] for _, a in found], crowd, crowd, (h, w))
        if ann.has_masks:
            record.mask = _mask_reader([a for _, a in found], [index[a["category_id"]]
                                                                for _, a in found], h, w)
        where = f"{path}: image {image_id} ({name})"
        if check_objects(ann, record, where):
            yield split_by_hash(name), record


def _mask_reader(objects, classes, h, w):
    def read():
        semantic = np.zeros((h, w), np.uint8)
        instance = np.zeros((h, w), np.uint8)
        for k, (a, c) in enumerate(zip(objects, classes)):
            m = segmentation_mask(a.get("segmentation"), h, w)
            if m is None:
                continue
            semantic[m] = c + 1
            instance[m] = min(k + 1, 255)
        return semantic, instance
    return read


def segmentation_mask(seg, h: int, w: int):
    """A COCO segmentation (polygons, RLE or compressed RLE) as a bool [h, w] array."""
    if not seg:
        return None
    if isinstance(seg, list):
        from PIL import Image, ImageDraw
        canvas = Image.new("L", (w, h), 0)
        draw = ImageDraw.Draw(canvas)
        for poly in seg:
            if len(poly) >= 6:
                draw.polygon([(poly[i], poly[i + 1]) for i in range(0, len(poly) - 1, 2)],
                             fill=1)
        return np.asarray(canvas, bool)
    counts = seg["counts"]
    if isinstance(counts, str):
        counts = rle_counts(counts)
    flat = np.zeros(h * w, bool)
    pos, value = 0, False
    for n in counts:
        flat[pos:pos + n] = value
        pos, value = pos + n, not value
    return flat.reshape((w, h)).T  # RLE runs down columns (Fortran order)


def rle_counts(text: str) -> list[int]:
    """COCO's compressed RLE string -> run lengths (the format of its maskApi.c: 5 bits
    per character, with a sign bit, each count after the second a difference)."""
    counts, p = [], 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            c = ord(text[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts
