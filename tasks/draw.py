"""Pictures of predictions: the pieces a task's `draw` puts together, and the files.

Each task decides what its prediction looks like (`Task.draw`); this module only
knows how to paint: an enlarged canvas (with a class mask blended in), boxes with
labels, and a caption.
"""
from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image, ImageDraw

PALETTE = np.array([[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200],
                    [245, 130, 48], [145, 30, 180], [70, 240, 240], [240, 50, 230]], np.uint8)
SCALE = 4  # small images are enlarged so the drawing is legible


def label(item: dict, class_names=()) -> str:
    """"name score" for a decoded object or top class."""
    name = item.get("name") or (class_names[item["class"]] if class_names else str(item["class"]))
    return f"{name} {item['score']:.2f}"


def canvas(image: np.ndarray, mask=None) -> Image.Image:
    """The input image as RGB, enlarged SCALE times; class ids in `mask` (0 = background)
    are blended in, each class in its own colour."""
    img = np.clip(image, 0, 255).astype(np.uint8)
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, -1)
    if mask is not None:
        mask = np.asarray(mask)
        colours = PALETTE[mask % len(PALETTE)]
        img = np.where(mask[..., None] > 0, img // 2 + colours // 2, img).astype(np.uint8)
    return Image.fromarray(img).resize((img.shape[1] * SCALE, img.shape[0] * SCALE),
                                       Image.NEAREST)


def boxes(pic: Image.Image, item: dict, class_names=()) -> None:
    """The item's boxes (`objects`, or the item itself when it has a `box`), yxyx in 0..1."""
    pen = ImageDraw.Draw(pic)
    h, w = pic.height, pic.width
    for obj in item.get("objects") or ([item] if "box" in item else []):
        y0, x0, y1, x1 = obj["box"]
        colour = tuple(int(c) for c in PALETTE[1 + obj.get("class", 0) % (len(PALETTE) - 1)])
        pen.rectangle([x0 * w, y0 * h, x1 * w, y1 * h], outline=colour, width=2)
        if "class" in obj:
            pen.text((x0 * w + 2, y0 * h + 1), label(obj, class_names), fill=colour)


def caption(pic: Image.Image, lines: list) -> None:
    ImageDraw.Draw(pic).text((3, 2), "\n".join(lines), fill=(255, 255, 0))


def draw_predictions(task, images, decoded, names, folder: str, class_names=()) -> list:
    """One PNG per input in `folder`, drawn by the task; returns the paths written."""
    from builder.untrusted import output_folder, replace_file
    output_folder(folder, "--draw")
    written = []
    for i, (image, item, name) in enumerate(zip(images, decoded, names)):
        stem = os.path.splitext(os.path.basename(name.split("[")[0]))[0] or "input"
        path = os.path.join(folder, f"{i:03d}_{stem}.png")
        png = io.BytesIO()
        task.draw(image, item, class_names).save(png, format="PNG")
        replace_file(path, png.getvalue())
        written.append(path)
    return written
