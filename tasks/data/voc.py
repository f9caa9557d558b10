"""Pascal VOC: `Annotations/*.xml`, `JPEGImages/`, `ImageSets/Main/{train,val,test}.txt`,
and `SegmentationClass/*.png` palette masks.

Boxes are VOC's 1-based pixel corners, read as TFDS reads them: (corner - 1) / size.
Classes are the lines of `classes.txt` at the root if there is one, else VOC's twenty
if every name is one of them, else the names found, sorted. `difficult` objects are
kept for evaluation only (ignored there, as VOC does). A palette mask's index is the
class + 1 (VOC's own numbering, 0 background); 255 (VOC's "void" outline) reads as
background.
"""
from __future__ import annotations

import glob
import os
import xml.etree.ElementTree as ET

import numpy as np

from .annotations import Annotated, Problem, Record, check_objects, split_by_hash
from .sources import DataError

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor")
SET_FILES = (("train", "train"), ("val", "validation"), ("test", "test"))
VOID = 255


def find(root: str) -> bool:
    return os.path.isdir(os.path.join(root, "Annotations")) and os.path.isdir(
        os.path.join(root, "JPEGImages"))


def read(root: str) -> Annotated:
    parsed = [(path, _parse(path)) for path in
              sorted(glob.glob(os.path.join(root, "Annotations", "*.xml")))]
    if not parsed:
        raise DataError(f"{root}/Annotations: no .xml files")
    names = _class_names(root, {o[0] for _, p in parsed for o in p["objects"]})
    index = {n: i for i, n in enumerate(names)}
    ann = Annotated("Pascal VOC", root, {}, names)
    seg_dir = os.path.join(root, "SegmentationClass")
    ids = {os.path.splitext(os.path.basename(path))[0] for path, _ in parsed}
    ann.has_masks = os.path.isdir(seg_dir) and all(
        os.path.exists(os.path.join(seg_dir, f"{i}.png")) for i in ids)
    if os.path.isdir(seg_dir) and not ann.has_masks:
        have = sum(os.path.exists(os.path.join(seg_dir, f"{i}.png")) for i in ids)
        ann.notes.append(f"SegmentationClass/ has masks for {have} of {len(ids)} images: read "
                         "as a detection dataset (no masks)")
    split_of = _set_files(root)
    for path, p in parsed:
        image_id = os.path.splitext(os.path.basename(path))[0]
        image = os.path.join(root, "JPEGImages", p["filename"] or f"{image_id}.jpg")
        h, w = p["size"]
        unknown = [(k, o[0]) for k, o in enumerate(p["objects"]) if o[0] not in index]
        for k, name in unknown:
            ann.problems.append(Problem(f"{path}: object {k}", f"class {name!r} is not in the "
                                        "class list", image))
        if unknown:
            continue
        objects = p["objects"]
        boxes = [[(o[2] - 1) / h, (o[1] - 1) / w, (o[4] - 1) / h, (o[3] - 1) / w] for o in objects]
        record = Record(image, boxes, [index[o[0]] for o in objects],
                        [o[5] for o in objects], None, (h, w))
        if ann.has_masks:
            record.mask = _palette_mask(os.path.join(seg_dir, f"{image_id}.png"), len(names))
        if not check_objects(ann, record, path):
            continue
        split = split_of.get(image_id) if split_of else split_by_hash(image_id)
        if split is None:
            continue  # listed in no ImageSets file: not part of this dataset's splits
        ann.splits.setdefault(split, []).append(record)
    if split_of:
        listed = set(split_of) - ids
        for image_id in sorted(listed)[:50]:
            ann.problems.append(Problem(f"{root}/ImageSets/Main", f"{image_id} is listed but "
                                        f"has no Annotations/{image_id}.xml"))
    return ann


def _parse(path: str) -> dict:
    try:
        tree = ET.parse(path)
    except ET.ParseError as exc:
        line, col = exc.position
        reason = str(exc).split(":")[0]
        raise DataError(f"{path}:{line}:{col + 1}: not valid XML: {reason}") from None
    root = tree.getroot()
    try:
        size = root.find("size")
        h, w = int(size.findtext("height")), int(size.findtext("width"))
        objects = []
        for k, o in enumerate(root.findall("object")):
            box = o.find("bndbox")
            corners = [float(box.findtext(t)) for t in ("xmin", "ymin", "xmax", "ymax")]
            objects.append((o.findtext("name", "").strip(), *corners,
                            o.findtext("difficult", "0").strip() == "1"))
    except (AttributeError, TypeError, ValueError):
        raise DataError(f"{path}: expected <size> with <width> and <height>, and each <object> "
                        "with <name> and <bndbox> (xmin, ymin, xmax, ymax)") from None
    if h <= 0 or w <= 0:
        raise DataError(f"{path}: image size {w}x{h} is not positive")
    return {"filename": (root.findtext("filename") or "").strip(), "size": (h, w),
            "objects": objects}


def _class_names(root: str, found: set) -> tuple:
    listed = os.path.join(root, "classes.txt")
    if os.path.exists(listed):
        with open(listed, encoding="utf-8") as fh:
            return tuple(ln.strip() for ln in fh if ln.strip())
    if found <= set(VOC_CLASSES):
        return VOC_CLASSES
    return tuple(sorted(found))


def _set_files(root: str) -> dict:
    out = {}
    for word, split in SET_FILES:
        path = os.path.join(root, "ImageSets", "Main", f"{word}.txt")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        out[line.split()[0]] = split
    return out


def _palette_mask(path: str, classes: int):
    def read():
        from PIL import Image
        with Image.open(path) as im:
            index = np.asarray(im if im.mode in ("P", "L") else im.convert("L")).astype(np.uint8)
        semantic = np.where(index == VOID, 0, index).astype(np.uint8)
        semantic[semantic > classes] = 0
        return semantic, np.zeros_like(semantic)  # VOC's class masks carry no instances
    return read
