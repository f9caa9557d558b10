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

from . import fields
from .annotations import Annotated, Problem, Record, check_objects, split_by_hash
from .dataset_files import outside, read_bytes, read_text
from .fields import FieldError
from .sources import DataError

MAX_XML_BYTES = 16 << 20  # one image's objects

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor")
SET_FILES = (("train", "train"), ("val", "validation"), ("test", "test"))
VOID = 255


def find(root: str) -> bool:
    return os.path.isdir(os.path.join(root, "Annotations")) and os.path.isdir(
        os.path.join(root, "JPEGImages"))


def read(root: str) -> Annotated:
    ann = Annotated("Pascal VOC", root, {}, ())
    parsed, xml_files = [], sorted(glob.glob(os.path.join(root, "Annotations", "*.xml")))
    for path in xml_files:
        why = outside(path, [root])
        if why:  # never opened: a problem of this example, like an unreadable image
            ann.problems.append(Problem(path, why, path))
            continue
        try:
            parsed.append((path, _parse(path, root)))
        except FieldError as exc:  # one object of one image: a problem of that example
            ann.problems.append(Problem(exc.where, exc.what, path))
    if not parsed and not ann.problems:
        raise DataError(f"{root}/Annotations: no .xml files")
    names = _class_names(root, {o[0] for _, p in parsed for o in p["objects"]})
    index = {n: i for i, n in enumerate(names)}
    ann.class_names = names
    seg_dir = os.path.join(root, "SegmentationClass")
    ids = {os.path.splitext(os.path.basename(path))[0] for path in xml_files}
    ann.has_masks = os.path.isdir(seg_dir) and all(
        os.path.lexists(os.path.join(seg_dir, f"{i}.png")) for i in ids)
    if os.path.isdir(seg_dir) and not ann.has_masks:
        have = sum(os.path.lexists(os.path.join(seg_dir, f"{i}.png")) for i in ids)
        ann.notes.append(f"SegmentationClass/ has masks for {have} of {len(ids)} images: read "
                         "as a detection dataset (no masks)")
    split_of = _set_files(root)
    for path, p in parsed:
        image_id = os.path.splitext(os.path.basename(path))[0]
        record = _record(ann, root, path, p, index)
        if record is None:
            continue
        if ann.has_masks:
            record.mask_file = os.path.join(seg_dir, f"{image_id}.png")
            record.mask = _palette_mask(record.mask_file, len(names))
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


def _record(ann: Annotated, root: str, path: str, p: dict, index: dict) -> Record | None:
    image_id = os.path.splitext(os.path.basename(path))[0]
    name = p["filename"] or f"{image_id}.jpg"
    image = os.path.normpath(os.path.join(root, "JPEGImages", name))
    h, w = p["size"]
    unknown = [(k, o[0]) for k, o in enumerate(p["objects"]) if o[0] not in index]
    for k, name in unknown:
        ann.problems.append(Problem(f"{path}: object {k}", f"class {name!r} is not in the "
                                    "class list", image))
    if unknown:
        return None
    objects = p["objects"]
    boxes = [[(o[2] - 1) / h, (o[1] - 1) / w, (o[4] - 1) / h, (o[3] - 1) / w] for o in objects]
    record = Record(image, boxes, [index[o[0]] for o in objects],
                    [o[5] for o in objects], None, (h, w))
    return record if check_objects(ann, record, path) else None


def _xml(path: str, root: str):
    data = read_bytes(path, "VOC annotation", MAX_XML_BYTES, [root])
    # VOC files declare no entities; refusing a DTD rules out entity expansion bombs.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise DataError(f"{path}: a DOCTYPE or ENTITY declaration; VOC annotations have none")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line, col = exc.position
        reason = str(exc).split(":")[0]
        raise DataError(f"{path}:{line}:{col + 1}: not valid XML: {reason}") from None


def _parse(path: str, root: str) -> dict:
    """The size, file name and objects of one annotation file. A missing element is an
    error of the file (DataError); a value of the wrong type or range of one object is
    a FieldError, a problem of this example."""
    tree = _xml(path, root)
    size = tree.find("size")
    if size is None or size.find("height") is None or size.find("width") is None:
        raise DataError(f"{path}: expected <size> with <width> and <height>, and each "
                        "<object> with <name> and <bndbox> (xmin, ymin, xmax, ymax)")
    try:
        h, w = (fields.parse_integer(size.findtext(t) or "", f"{path}: <size><{t}>", 1,
                                     fields.MAX_SIDE) for t in ("height", "width"))
    except FieldError as exc:
        raise DataError(str(exc)) from None
    objects = []
    for k, o in enumerate(tree.findall("object")):
        where = f"{path}: object {k}"
        box = o.find("bndbox")
        if box is None:
            raise FieldError(where, "expected <bndbox> with <xmin>, <ymin>, <xmax>, <ymax>")
        corners = [fields.parse_number(box.findtext(t) or "", f"{where}: <{t}>")
                   for t in ("xmin", "ymin", "xmax", "ymax")]
        name = fields.text(o.findtext("name", ""), f"{where}: <name>").strip()
        objects.append((name, *corners, o.findtext("difficult", "0").strip() == "1"))
    filename = (tree.findtext("filename") or "").strip()
    return {"filename": filename, "size": (h, w), "objects": objects}


def _lines(path: str, root: str, what: str):
    """(line number, stripped text) of the non-empty lines of a UTF-8 text file."""
    for n, line in enumerate(read_text(path, what, [root]).splitlines(), start=1):
        if line.strip():
            yield n, line.strip()


def _class_names(root: str, found: set) -> tuple:
    listed = os.path.join(root, "classes.txt")
    if os.path.lexists(listed):
        first, names = {}, []
        for n, name in _lines(listed, root, "class list"):
            if name in first:
                raise DataError(f"{listed}:{n}: class {name!r} is listed twice (first at "
                                f"line {first[name]}); each class needs one line")
            first[name] = n
            names.append(name)
        if not names:
            raise DataError(f"{listed}: no class names")
        return tuple(names)
    if found <= set(VOC_CLASSES):
        return VOC_CLASSES
    return tuple(sorted(found))


def _set_files(root: str) -> dict:
    out = {}
    for word, split in SET_FILES:
        path = os.path.join(root, "ImageSets", "Main", f"{word}.txt")
        if os.path.lexists(path):
            for _, line in _lines(path, root, "image set list"):
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
