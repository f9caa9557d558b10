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
import os

from . import fields
from .annotations import Annotated, Problem, Record, check_objects, split_by_hash
from .coco_masks import check_segmentation, mask_reader, rle_counts, segmentation_mask
from .dataset_files import read_json
from .fields import FieldError
from .sources import DataError

__all__ = ["find", "read", "rle_counts", "segmentation_mask", "split_of"]
MAX_ID = 2 ** 63 - 1  # ids are int64 in COCO's own tools

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
    docs = [(f, _load(f, root)) for f in files]
    categories = {}
    for f, doc in docs:
        _categories(f, doc, categories)
    if not categories:
        raise DataError(f"{files[0]}: no categories")
    ids = sorted(categories)
    ann.class_names = tuple(categories[i][0] for i in ids)
    index = {cid: k for k, cid in enumerate(ids)}
    ann.has_masks = any("segmentation" in a for _, doc in docs for a in doc["annotations"]
                        if isinstance(a, dict))
    for f, doc in docs:
        fixed = split_of(f) if len(docs) > 1 or split_of(f) else None
        for split, record in _records(f, doc, root, index, ann):
            ann.splits.setdefault(fixed or split, []).append(record)
    return ann


def _load(path: str, root: str) -> dict:
    doc = read_json(path, roots=[root])
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise DataError(f"{path}: a COCO file is an object with images, annotations and "
                        "categories")
    doc.setdefault("annotations", [])
    doc.setdefault("categories", [])
    fields.sequence(doc["annotations"], f"{path}: annotations")
    fields.sequence(doc["categories"], f"{path}: categories")
    return doc


def _categories(path: str, doc: dict, seen: dict) -> None:
    """Adds {id: (name, where, file)}; an id given twice with another name would merge
    two classes silently, so it is an error (as is one given twice in one file)."""
    for i, c in enumerate(doc["categories"]):
        where = f"{path}: categories[{i}]"
        fields.mapping(c, where)
        cid = fields.integer(c.get("id"), f"{where}.id", 0, MAX_ID)
        name = fields.text(c.get("name"), f"{where}.name")
        if cid in seen and seen[cid][0] != name:
            raise DataError(f"{where}.id: {cid} is already the id of {seen[cid][0]!r} "
                            f"({seen[cid][1]}); each category needs its own id")
        if cid in seen and seen[cid][2] == path:
            raise DataError(f"{where}.id: {cid} is given twice in this file "
                            f"(first at {seen[cid][1]})")
        seen.setdefault(cid, (name, where, path))


def _image_path(root: str, ann_file: str, name: str, roots: list) -> str:
    """Where an image named by the annotations is. Only names that stay inside `roots` are
    looked for, so ../../etc/passwd is never opened (screening then names it)."""
    stem = os.path.splitext(os.path.basename(ann_file))[0]
    folder = stem[len("instances_"):] if stem.startswith("instances_") else ""
    for candidate in (os.path.join(root, folder, name), os.path.join(root, "images", folder, name),
                      os.path.join(root, "images", name), os.path.join(root, name)):
        candidate = os.path.normpath(candidate)
        # Chosen by name only (no symlink followed, nothing outside looked at): screening
        # then finds where it really leads.
        if _lexically_inside(candidate, roots) and os.path.lexists(candidate):
            return candidate
    return os.path.normpath(os.path.join(root, "images", name))


def _lexically_inside(path: str, roots: list) -> bool:
    path = os.path.abspath(path)
    return any(path.startswith(os.path.abspath(r).rstrip(os.sep) + os.sep) for r in roots)


def _images(path: str, doc: dict) -> dict:
    """{image id: (file name, height, width)}; a broken entry is an error of the file."""
    images = {}
    for i, im in enumerate(doc["images"]):
        where = f"{path}: images[{i}]"
        fields.mapping(im, where)
        image_id = fields.integer(im.get("id"), f"{where}.id", 0, MAX_ID)
        if image_id in images:
            raise DataError(f"{where}.id: image id {image_id} is given twice")
        images[image_id] = (fields.text(im.get("file_name"), f"{where}.file_name"),
                            fields.side(im.get("height"), f"{where}.height"),
                            fields.side(im.get("width"), f"{where}.width"))
    return images


def _object(a: dict, where: str, index: dict, h: int, w: int) -> tuple:
    """(class, [x, y, width, height], crowd, segmentation) of one annotation."""
    cid = a.get("category_id")
    if isinstance(cid, bool) or not isinstance(cid, int) or cid not in index:
        raise FieldError(where, f"category_id {fields.shown(cid)} is not one of the "
                         "categories")
    box = fields.sequence(a.get("bbox"), f"{where}.bbox", 4)
    x, y = (fields.number(v, f"{where}.bbox[{k}]") for k, v in enumerate(box[:2]))
    bw, bh = (fields.number(v, f"{where}.bbox[{k + 2}]", 0) for k, v in enumerate(box[2:]))
    crowd = fields.integer(a.get("iscrowd", 0), f"{where}.iscrowd", 0, 1)
    seg = check_segmentation(a.get("segmentation"), f"{where}.segmentation", h, w)
    return index[cid], [x, y, bw, bh], bool(crowd), seg


def _records(path, doc, root, index, ann):
    images = _images(path, doc)
    roots = ann.allowed_roots()
    objects = {image_id: [] for image_id in images}
    for i, a in enumerate(doc["annotations"]):
        where = f"{path}: annotations[{i}]"
        image_id = a.get("image_id") if isinstance(a, dict) else a
        if not isinstance(image_id, int) or isinstance(image_id, bool) or \
                image_id not in images:
            ann.problems.append(Problem(where, f"image_id {fields.shown(image_id)} is not in "
                                               "images (labels without an image)"))
            continue
        name, h, w = images[image_id]
        try:
            objects[image_id].append(_object(a, where, index, h, w))
        except FieldError as exc:
            ann.problems.append(Problem(exc.where, exc.what,
                                        _image_path(root, path, name, roots)))
    for image_id, (name, h, w) in images.items():
        found = objects[image_id]
        boxes = [[y / h, x / w, (y + bh) / h, (x + bw) / w] for _, (x, y, bw, bh), _, _ in found]
        crowd = [c for _, _, c, _ in found]
        labels = [k for k, _, _, _ in found]
        record = Record(_image_path(root, path, name, roots), boxes, labels, crowd, crowd, (h, w))
        if ann.has_masks:
            record.mask = mask_reader([seg for *_, seg in found], labels, h, w)
        if check_objects(ann, record, f"{path}: image {image_id} ({name})"):
            yield split_by_hash(name), record
