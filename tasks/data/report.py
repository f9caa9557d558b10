"""`kspec data PATH`: what to check before training on a folder of annotated images.

The format found, splits and their sizes, classes with their object counts, image
sizes, objects per image and box sizes, masks, objects that share a detector grid cell
(a one-stage detector learns one object per cell), and every problem the reader met,
as a table or (`--json`) as data. Training reads the data through the same readers and
the same screening, so what this shows is what training will do.
"""
from __future__ import annotations

import os
from collections import Counter

import numpy as np

from .annotations import Annotated
from .sources import SPLITS

DEFAULT_GRID = 8  # specs/detector.yaml's output grid


def grid_collisions(records, grid: int) -> tuple[int, int, list]:
    """Objects whose centre falls in a grid cell another object of the same image already
    has: (colliding, objects, example files)."""
    colliding, total, where = 0, 0, []
    for r in records:
        cells = Counter()
        for (y0, x0, y1, x1), ignore in zip(r.boxes, r.ignore):
            if ignore:
                continue
            total += 1
            cy = min(int((y0 + y1) / 2 * grid), grid - 1)
            cx = min(int((x0 + x1) / 2 * grid), grid - 1)
            cells[(cy, cx)] += 1
        extra = sum(n - 1 for n in cells.values() if n > 1)
        if extra:
            colliding += extra
            where.append(r.image)
    return colliding, total, where


def image_size(record) -> tuple | None:
    if record.size:
        return tuple(record.size)
    try:
        from PIL import Image
        with Image.open(record.image) as im:
            return im.height, im.width
    except OSError:
        return None


def describe(ann: Annotated, grid: int = DEFAULT_GRID) -> dict:
    records = [r for s in SPLITS for r in ann.splits.get(s, [])]
    classes = Counter()
    per_split = {}
    for split in SPLITS:
        recs = ann.splits.get(split, [])
        counts = Counter(int(c) for r in recs for c in r.labels)
        classes.update(counts)
        per_split[split] = {"images": len(recs), "objects": sum(len(r.labels) for r in recs)}
    sizes = Counter(image_size(r) for r in records)
    per_image = np.array([len(r.labels) for r in records]) if records else np.zeros(1)
    boxes = np.concatenate([r.boxes for r in records]) if records else np.zeros((0, 4))
    hw = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], 1) if len(boxes) \
        else np.zeros((0, 2))
    colliding, objects, where = grid_collisions(records, grid)
    return {
        "format": ann.format, "path": ann.root, "splits": per_split,
        # folders its files may be in besides its own: what data.yaml's path: names
        "other_roots": [os.path.realpath(r) for r in ann.allowed_roots()[1:]],
        "classes": [{"id": i, "name": n, "objects": classes.get(i, 0)}
                    for i, n in enumerate(ann.class_names)],
        "image_sizes": [{"height": s[0], "width": s[1], "images": n}
                        for s, n in sizes.most_common() if s],
        "objects_per_image": {"min": int(per_image.min()), "mean": float(per_image.mean()),
                              "max": int(per_image.max())},
        "box_size": {k: [float(v) for v in (np.percentile(hw[:, i], [0, 50, 100]) if len(hw)
                                            else (0, 0, 0))]
                     for i, k in enumerate(("height", "width"))},
        "ignored_objects": int(sum(r.ignore.sum() for r in records)),
        "masks": ann.has_masks,
        "grid_collisions": {"grid": grid, "objects": colliding, "of": objects,
                            "images": where[:10]},
        "problems": [{"where": p.where, "what": p.what} for p in ann.problems],
        "notes": list(ann.notes),
    }


def table(d: dict) -> str:
    out = [f"{d['path']}: {d['format']}"]
    out += [f"files also in {r} (named by data.yaml path:)" for r in d["other_roots"]]
    out.append("splits        " + ", ".join(f"{s} {v['images']:,} images / {v['objects']:,} "
                                            "objects" for s, v in d["splits"].items()
                                            if v["images"]))
    out.append(f"classes       {len(d['classes'])}: " + ", ".join(
        f"{c['name']} {c['objects']:,}" for c in d["classes"]))
    shown = ", ".join(f"{s['height']}x{s['width']} ({s['images']:,})"
                      for s in d["image_sizes"][:5])
    more = f" and {len(d['image_sizes']) - 5} more sizes" if len(d["image_sizes"]) > 5 else ""
    out.append(f"image sizes   {shown}{more}")
    o = d["objects_per_image"]
    out.append(f"objects       per image {o['min']} to {o['max']} (mean {o['mean']:.2f}); "
               f"{d['ignored_objects']} marked crowd or difficult")
    b = d["box_size"]
    out.append("box size      height {:.3f} / {:.3f} / {:.3f}, width {:.3f} / {:.3f} / {:.3f} "
               "(min / median / max, fractions of the image)".format(*b["height"], *b["width"]))
    out.append(f"masks         {'yes' if d['masks'] else 'no'}")
    g = d["grid_collisions"]
    out.append(f"grid {g['grid']}x{g['grid']}     {g['objects']} of {g['of']} objects share a "
               "cell with another (a one-stage detector learns one per cell)")
    out.append(f"problems      {len(d['problems'])}" + ("" if d["problems"] else " (none)"))
    out += [f"  {p['where']}: {p['what']}" for p in d["problems"][:50]]
    if len(d["problems"]) > 50:
        out.append(f"  ... and {len(d['problems']) - 50} more (--json lists them all)")
    out += [f"note          {n}" for n in d["notes"]]
    return "\n".join(out)


def describe_folder(path: str, source) -> dict:
    """The class-folder and images/ layouts (`folder.py`): splits, classes with their
    image counts (from the folders), and what the screening skipped."""
    from .folder import _images
    counts = {}
    explicit = all(os.path.isdir(os.path.join(path, s)) for s in ("train", "validation"))
    for name in source.class_names:
        folders = [os.path.join(path, s, name) for s in SPLITS] if explicit else \
            [os.path.join(path, name)]
        counts[name] = sum(len(_images(f)) for f in folders if os.path.isdir(f))
    kind = "images with masks or boxes" if os.path.isdir(os.path.join(path, "images")) \
        else "class folders"
    return {"format": kind, "path": path,
            "splits": {s: {"images": n} for s, n in source.sizes.items()},
            "classes": [{"id": i, "name": n, "images": counts.get(n)}
                        for i, n in enumerate(source.class_names)],
            "notes": list(source.notes)}


def folder_table(d: dict) -> str:
    out = [f"{d['path']}: {d['format']}",
           "splits        " + ", ".join(f"{s} {v['images']:,} images"
                                        for s, v in d["splits"].items() if v["images"]),
           f"classes       {len(d['classes'])}: " + ", ".join(
               c["name"] + (f" {c['images']:,}" if c["images"] is not None else "")
               for c in d["classes"][:30]) + (", ..." if len(d["classes"]) > 30 else "")]
    return "\n".join(out + [f"note          {n}" for n in d["notes"]])
