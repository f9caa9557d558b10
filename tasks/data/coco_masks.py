"""COCO segmentations (polygons, RLE, compressed RLE): checked when read, drawn when used.

A segmentation is checked while its annotation file is read (types, finite coordinates,
run lengths that cover exactly the image its annotation belongs to), so that a broken one
is a problem of its example named there, not an error inside tf.data later. The mask
itself is drawn only when the example is produced.
"""
from __future__ import annotations

import numpy as np

from . import fields
from .fields import FieldError


def check_segmentation(seg, where: str, h: int, w: int):
    """A segmentation as ("polygons", [[x, y, ...], ...]) or ("runs", [counts]), or None
    (no mask); FieldError when it is not one COCO writes for an image of h x w."""
    if seg is None or seg == [] or seg == {}:
        return None
    if isinstance(seg, list):
        polygons = []
        for k, poly in enumerate(seg):
            fields.sequence(poly, f"{where}[{k}]")
            if len(poly) < 6 or len(poly) % 2:
                raise fields.fail(f"{where}[{k}]", "a polygon of at least 3 x, y pairs", poly)
            # pixel coordinates; far outside the image would only overflow the drawing
            polygons.append([fields.number(v, f"{where}[{k}][{j}]", -fields.MAX_SIDE,
                                           2 * fields.MAX_SIDE) for j, v in enumerate(poly)])
        return "polygons", polygons
    fields.mapping(seg, where)
    size = fields.sequence(seg.get("size"), f"{where}.size", 2)
    if [fields.integer(v, f"{where}.size[{j}]") for j, v in enumerate(size)] != [h, w]:
        raise FieldError(f"{where}.size", f"the mask is {size[0]}x{size[1]} (height x width), "
                         f"its image {h}x{w}")
    counts = seg.get("counts")
    if isinstance(counts, str):
        try:
            counts = rle_counts(counts)
        except ValueError as exc:
            raise FieldError(f"{where}.counts", str(exc)) from None
    else:
        counts = [fields.integer(v, f"{where}.counts[{j}]", 0)
                  for j, v in enumerate(fields.sequence(counts, f"{where}.counts"))]
    if any(n < 0 for n in counts):
        raise FieldError(f"{where}.counts", "a negative run length")
    if sum(counts) != h * w:
        raise FieldError(f"{where}.counts", f"runs of {sum(counts)} pixels for an image of "
                         f"{h}x{w} = {h * w}")
    return "runs", counts


def draw(parts, h: int, w: int):
    """A checked segmentation as a bool [h, w] array (None: no mask)."""
    if parts is None:
        return None
    kind, value = parts
    if kind == "polygons":
        from PIL import Image, ImageDraw
        canvas = Image.new("L", (w, h), 0)
        pen = ImageDraw.Draw(canvas)
        for poly in value:
            pen.polygon([(poly[i], poly[i + 1]) for i in range(0, len(poly) - 1, 2)], fill=1)
        return np.asarray(canvas, bool)
    flat = np.zeros(h * w, bool)
    pos, on = 0, False
    for n in value:
        flat[pos:pos + n] = on
        pos, on = pos + n, not on
    return flat.reshape((w, h)).T  # RLE runs down columns (Fortran order)


def segmentation_mask(seg, h: int, w: int):
    """A COCO segmentation (polygons, RLE or compressed RLE) as a bool [h, w] array."""
    return draw(check_segmentation(seg, "segmentation", h, w), h, w)


def mask_reader(parts_list, classes, h: int, w: int):
    def read():
        semantic = np.zeros((h, w), np.uint8)
        instance = np.zeros((h, w), np.uint8)
        for k, (parts, c) in enumerate(zip(parts_list, classes)):
            m = draw(parts, h, w)
            if m is None:
                continue
            semantic[m] = c + 1
            instance[m] = min(k + 1, 255)
        return semantic, instance
    return read


def rle_counts(text: str) -> list[int]:
    """COCO's compressed RLE string -> run lengths (the format of its maskApi.c: 5 bits
    per character, with a sign bit, each count after the second a difference).
    ValueError on a character outside the format or a string that ends mid-number."""
    counts, p = [], 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            if p >= len(text):
                raise ValueError("the compressed RLE string ends inside a number")
            c = ord(text[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"{text[p]!r} is not a compressed RLE character")
            if k > 12:  # 65 bits: no image has runs that long
                raise ValueError("a compressed RLE number is too long")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts
