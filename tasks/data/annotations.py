"""Annotated image datasets (COCO, Pascal VOC, YOLO) as canonical sources, with a data check.

Each format module reads its files into `Record`s per split and reports every
`Problem` it meets (a file and what is wrong with it). `to_source` screens them as
training does: problems in up to 1% of the examples drop those examples with a note
naming the files; more is a DataError. `kspec data` (`tasks/data/report.py`) shows the
same records and problems as a table.

Boxes are (ymin, xmin, ymax, xmax) in [0, 1], as everywhere in kspec; `ignore` marks
objects that count neither as misses nor as false positives in evaluation (COCO's
crowds, VOC's `difficult`), and `crowd` those matched by the share of a detection
inside them.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np

from .sources import SPLITS, DataError, Source

MAX_PROBLEM_SHARE = 0.01
MAX_SHOWN = 10


@dataclass
class Record:
    """One image and its objects."""

    image: str                      # path
    boxes: np.ndarray               # float32 [N, 4] yxyx in [0, 1]
    labels: np.ndarray              # int64 [N]
    ignore: np.ndarray | None = None  # bool [N]
    crowd: np.ndarray | None = None   # bool [N]
    size: tuple | None = None       # (height, width) when the annotations say
    mask: object = None             # () -> (semantic uint8 [H, W], instance uint8 [H, W])
    mask_file: str | None = None    # the image file `mask` reads, if it reads one

    def __post_init__(self):
        n = len(self.labels)
        self.boxes = np.asarray(self.boxes, np.float32).reshape(n, 4)
        self.labels = np.asarray(self.labels, np.int64).reshape(n)
        self.ignore = np.zeros(n, bool) if self.ignore is None else np.asarray(self.ignore, bool)
        self.crowd = np.zeros(n, bool) if self.crowd is None else np.asarray(self.crowd, bool)


@dataclass
class Problem:
    where: str   # a file, with a line or entry where one is known
    what: str
    image: str | None = None  # the example it removes, if any

    def __str__(self):
        return f"{self.where}: {self.what}"


@dataclass
class Annotated:
    """What a format reader found: records per split, class names, problems, notes."""

    format: str
    root: str
    splits: dict                    # split -> [Record]
    class_names: tuple
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    has_masks: bool = False
    unlabelled: list = field(default_factory=list)  # images without labels (YOLO): no objects
    roots: list = field(default_factory=list)  # folders its files may be in; default: root

    def allowed_roots(self) -> list:
        return self.roots or [self.root]

    def total(self) -> int:
        return sum(len(r) for r in self.splits.values()) + len(self.dropped_images())

    def dropped_images(self) -> set:
        kept = {r.image for recs in self.splits.values() for r in recs}
        return {p.image for p in self.problems if p.image and p.image not in kept}


def split_by_hash(name: str) -> str:
    """80/10/10 by a hash of the file name: stable as files are added."""
    h = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 10
    return "train" if h < 8 else "validation" if h == 8 else "test"


def check_objects(ann: Annotated, record: Record, where: str) -> bool:
    """Adds a Problem for a box outside the image, of zero area, or of an unknown class;
    False when the record has one (it is then left out)."""
    ok = True
    n = len(ann.class_names)
    for i, (box, label) in enumerate(zip(record.boxes, record.labels)):
        y0, x0, y1, x1 = (float(v) for v in box)
        if not 0 <= label < n:
            ann.problems.append(Problem(where, f"object {i}: class {int(label)} is not one of "
                                               f"the {n} classes", record.image))
            ok = False
        elif min(y0, x0) < -1e-6 or max(y1, x1) > 1 + 1e-6:
            ann.problems.append(Problem(where, f"object {i}: box outside the image "
                                               f"(ymin, xmin, ymax, xmax = {y0:.3f}, {x0:.3f}, "
                                               f"{y1:.3f}, {x1:.3f})", record.image))
            ok = False
        elif y1 <= y0 or x1 <= x0:
            ann.problems.append(Problem(where, f"object {i}: box of zero area", record.image))
            ok = False
    return ok


def screen_images(ann: Annotated) -> None:
    """Every image (and mask file) is read once, as for folders: one outside the dataset's
    roots, unreadable, not decodable by training, or of another size than its annotations
    say is a Problem of its example."""
    from .folder import inspect_image
    roots = ann.allowed_roots()
    for records in ann.splits.values():
        for r in records:
            why = _image_problem(r, roots, inspect_image)
            if why:
                ann.problems.append(Problem(r.image, why, r.image))
    bad = {p.image for p in ann.problems if p.image}
    ann.splits = {s: [r for r in recs if r.image not in bad] for s, recs in ann.splits.items()}


def _image_problem(r: Record, roots: list, inspect_image) -> str | None:
    from .dataset_files import outside
    why = outside(r.image, roots)
    if why:
        return why
    if not os.path.lexists(r.image):
        return "labels without an image (no such file)"
    why, size = inspect_image(r.image)
    if why:
        return f"unreadable image: {why}"
    if r.size and tuple(r.size) != size:
        return (f"the annotations say {r.size[1]}x{r.size[0]} (width x height), the image "
                f"is {size[1]}x{size[0]}")
    if r.mask_file:
        why, mask_size = inspect_image(r.mask_file, roots)
        if why:
            return f"mask {r.mask_file}: {why}"
        if mask_size != size:
            return (f"mask {r.mask_file} is {mask_size[1]}x{mask_size[0]}, its image "
                    f"{size[1]}x{size[0]} (it would be stretched)")
    return None


def screened(ann: Annotated) -> Annotated:
    """Raises DataError when problems touch more than 1% of the examples; else notes."""
    if not ann.problems:
        return ann
    # What a problem costs: the example it removes, or (labels without an image) itself.
    units = len({p.image for p in ann.problems if p.image}) + sum(not p.image
                                                                  for p in ann.problems)
    total = max(ann.total() + sum(not p.image for p in ann.problems), 1)
    shown = "; ".join(str(p) for p in ann.problems[:MAX_SHOWN])
    more = f"; and {len(ann.problems) - MAX_SHOWN} more" if len(ann.problems) > MAX_SHOWN else ""
    if units / total > MAX_PROBLEM_SHARE:
        raise DataError(f"{ann.format} dataset {ann.root}: problems in {units} of {total} "
                        f"examples ({units / total:.1%}, over {MAX_PROBLEM_SHARE:.0%}): "
                        f"{shown}{more} (kspec data {ann.root} lists them all)")
    ann.notes.append(f"skipped {units} of {total} examples with problems: {shown}{more}")
    return ann


FORMATS = ("coco", "voc", "yolo")


def detect(root: str) -> str | None:
    """Which annotation format the folder `root` holds, if any."""
    from . import coco, voc, yolo
    if coco.find(root):
        return "coco"
    if voc.find(root):
        return "voc"
    if yolo.find(root):
        return "yolo"
    return None


def read_annotated(root: str, screen: bool = True) -> Annotated:
    """Reads a COCO, VOC or YOLO folder, with every image opened once (`screen`)."""
    import importlib
    kind = detect(root)
    ann = importlib.import_module(f"{__package__}.{kind}").read(root)
    if screen:
        screen_images(ann)
    return ann


def load_annotated(root: str) -> Source:
    """`--data FOLDER` for the annotation formats: read, checked, screened, canonical."""
    return to_source(screened(read_annotated(root)))


def to_source(ann: Annotated) -> Source:
    """The canonical tf.data splits of screened records."""
    splits, sizes = {}, {}
    for split in SPLITS:
        records = ann.splits.get(split) or []
        sizes[split] = len(records)
        if records:
            splits[split] = _dataset(records, ann.has_masks)
    if "train" not in splits:
        raise DataError(f"{ann.format} dataset {ann.root}: no training examples")
    known = {r.size for recs in ann.splits.values() for r in recs}
    shape = (*known.pop(), 3) if len(known) == 1 and None not in known else None
    return Source(ann.root, splits, ann.class_names, shape,
                  len(ann.class_names) + 1 if ann.has_masks else 0, sizes, list(ann.notes),
                  ann.splits)


def _dataset(records, masks: bool):
    import tensorflow as tf

    from .canonical import largest_box_index

    def generate():
        for r in records:
            item = {"path": r.image, "boxes": r.boxes, "box_labels": r.labels,
                    "box_ignore": r.ignore}
            if masks:
                semantic, instance = r.mask()
                item["mask"], item["instance_mask"] = semantic[..., None], instance[..., None]
            yield item

    signature = {"path": tf.TensorSpec([], tf.string),
                 "boxes": tf.TensorSpec([None, 4], tf.float32),
                 "box_labels": tf.TensorSpec([None], tf.int64),
                 "box_ignore": tf.TensorSpec([None], tf.bool)}
    if masks:
        signature["mask"] = tf.TensorSpec([None, None, 1], tf.uint8)
        signature["instance_mask"] = tf.TensorSpec([None, None, 1], tf.uint8)

    def canonical(item):
        ex = dict(item)
        ex["image"] = tf.io.decode_image(tf.io.read_file(ex.pop("path")), channels=3,
                                         expand_animations=False)
        boxes, labels = ex["boxes"], ex["box_labels"]
        # The main object (classification, localization) is the largest box; an image
        # without objects has label -1, which those tasks refuse.
        has = tf.shape(boxes)[0] > 0
        main = largest_box_index(tf.concat([boxes, tf.zeros([1, 4])], 0))
        ex["bbox"] = tf.where(has, tf.gather(tf.concat([boxes, tf.zeros([1, 4])], 0), main),
                              tf.zeros([4]))
        ex["label"] = tf.where(has, tf.gather(tf.concat([labels, [-1]], 0), main),
                               tf.constant(-1, tf.int64))
        return ex

    ds = tf.data.Dataset.from_generator(generate, output_signature=signature)
    return ds.map(canonical, num_parallel_calls=tf.data.AUTOTUNE)
