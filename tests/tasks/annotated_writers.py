"""Small datasets written in COCO, Pascal VOC and YOLO layouts from the `shapes` drawing
code, so the true boxes, classes and masks are known. Used by the tests only."""
import json
import os

import numpy as np
from PIL import Image

from tasks.data.shapes_draw import CLASSES, DrawSettings, draw_example

SPLIT_NAMES = {"train": ("train", "train"), "validation": ("val", "val")}


def examples(train=16, validation=8, size=64, seed=3):
    settings = DrawSettings(size, 1, 4, 12.0, seed)
    out = {}
    for split, n in (("train", train), ("validation", validation)):
        out[split] = [(f"{split[0]}{i:03d}", draw_example(split, i, settings)) for i in range(n)]
    return out


def _save_image(path, ex):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(ex["image"]).save(path)


def _pixels(box, n):
    """A box (fractions, exact multiples of 1/n) in whole pixels: x0, y0, x1, y1 (exclusive)."""
    y0, x0, y1, x1 = (int(round(v * n)) for v in box)
    return x0, y0, x1, y1


def rle(mask: np.ndarray) -> dict:
    """Uncompressed COCO RLE (runs down the columns, starting with zeros)."""
    flat = mask.T.reshape(-1).astype(np.uint8)
    changes = np.nonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))[0]
    counts = np.diff(np.concatenate([[0], changes]))
    return {"counts": [int(c) for c in counts], "size": list(mask.shape)}


def write_coco(root, data):
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    for split, items in data.items():
        folder = SPLIT_NAMES[split][0] + "2017"
        doc = {"images": [], "annotations": [],
               # sparse ids, as COCO's: 1, 3, 5, 7
               "categories": [{"id": 2 * k + 1, "name": n} for k, n in enumerate(CLASSES)]}
        for image_id, (name, ex) in enumerate(items, start=1):
            n = ex["image"].shape[0]
            _save_image(os.path.join(root, folder, name + ".png"), ex)
            doc["images"].append({"id": image_id, "file_name": name + ".png", "height": n,
                                  "width": n})
            instance = ex["instance_mask"][..., 0]
            ids = [i for i in np.unique(instance) if i]
            for box, label, inst in zip(ex["objects"]["bbox"], ex["objects"]["label"], ids):
                x0, y0, x1, y1 = _pixels(box, n)
                doc["annotations"].append({
                    "id": len(doc["annotations"]) + 1, "image_id": image_id,
                    "category_id": 2 * int(label) + 1, "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": float((instance == inst).sum()), "iscrowd": 0,
                    "segmentation": rle(instance == inst)})
        with open(os.path.join(root, "annotations", f"instances_{folder}.json"), "w") as fh:
            json.dump(doc, fh)


def write_voc(root, data):
    for d in ("Annotations", "JPEGImages", "SegmentationClass", "ImageSets/Main"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    with open(os.path.join(root, "classes.txt"), "w") as fh:
        fh.write("\n".join(CLASSES) + "\n")
    for split, items in data.items():
        with open(os.path.join(root, "ImageSets", "Main", SPLIT_NAMES[split][1] + ".txt"),
                  "w") as fh:
            fh.write("\n".join(name for name, _ in items) + "\n")
        for name, ex in items:
            n = ex["image"].shape[0]
            _save_image(os.path.join(root, "JPEGImages", name + ".png"), ex)
            palette = Image.fromarray(ex["segmentation_mask"][..., 0], mode="P")
            palette.putpalette([v for i in range(256) for v in (i * 40 % 256, i * 90 % 256, i)])
            palette.save(os.path.join(root, "SegmentationClass", name + ".png"))
            objects = []
            for box, label in zip(ex["objects"]["bbox"], ex["objects"]["label"]):
                x0, y0, x1, y1 = _pixels(box, n)
                objects.append(f"<object><name>{CLASSES[label]}</name><difficult>0</difficult>"
                               f"<bndbox><xmin>{x0 + 1}</xmin><ymin>{y0 + 1}</ymin>"
                               f"<xmax>{x1 + 1}</xmax><ymax>{y1 + 1}</ymax></bndbox></object>")
            with open(os.path.join(root, "Annotations", name + ".xml"), "w") as fh:
                fh.write(f"<annotation><filename>{name}.png</filename><size><width>{n}</width>"
                         f"<height>{n}</height><depth>3</depth></size>{''.join(objects)}"
                         "</annotation>\n")


def write_yolo(root, data):
    lines = ["path: .", "names:"] + [f"  {k}: {n}" for k, n in enumerate(CLASSES)]
    for split, items in data.items():
        key = SPLIT_NAMES[split][1]
        lines.append(f"{key}: images/{key}")
        for name, ex in items:
            _save_image(os.path.join(root, "images", key, name + ".png"), ex)
            rows = []
            for (y0, x0, y1, x1), label in zip(ex["objects"]["bbox"], ex["objects"]["label"]):
                values = (float(x0 + x1) / 2, float(y0 + y1) / 2, float(x1 - x0), float(y1 - y0))
                rows.append(f"{label} " + " ".join(repr(v) for v in values))
            os.makedirs(os.path.join(root, "labels", key), exist_ok=True)
            with open(os.path.join(root, "labels", key, name + ".txt"), "w") as fh:
                fh.write("\n".join(rows) + "\n")
    with open(os.path.join(root, "data.yaml"), "w") as fh:
        fh.write("\n".join(lines) + "\n")


WRITERS = {"coco": write_coco, "voc": write_voc, "yolo": write_yolo}
