"""Pictures of predictions: boxes, masks or top classes drawn on the input images."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageDraw

PALETTE = np.array([[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200],
                    [245, 130, 48], [145, 30, 180], [70, 240, 240], [240, 50, 230]], np.uint8)
SCALE = 4  # small images are enlarged so the drawing is legible


def _label(item: dict, class_names) -> str:
    name = item.get("name") or (class_names[item["class"]] if class_names else str(item["class"]))
    return f"{name} {item['score']:.2f}"


def draw_one(task, image: np.ndarray, item: dict, class_names=()) -> Image.Image:
    img = np.clip(image, 0, 255).astype(np.uint8)
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, -1)
    if task.name == "segmentation" and "mask" in item:
        colours = PALETTE[np.asarray(item["mask"]) % len(PALETTE)]
        img = np.where(np.asarray(item["mask"])[..., None] > 0, img // 2 + colours // 2, img)
    pic = Image.fromarray(img.astype(np.uint8)).resize(
        (img.shape[1] * SCALE, img.shape[0] * SCALE), Image.NEAREST)
    pen = ImageDraw.Draw(pic)
    h, w = pic.height, pic.width
    boxes = item.get("objects") or ([item] if "box" in item else [])
    for obj in boxes:
        y0, x0, y1, x1 = obj["box"]
        colour = tuple(int(c) for c in PALETTE[1 + obj.get("class", 0) % (len(PALETTE) - 1)])
        pen.rectangle([x0 * w, y0 * h, x1 * w, y1 * h], outline=colour, width=2)
        if "class" in obj:
            pen.text((x0 * w + 2, y0 * h + 1), _label(obj, class_names), fill=colour)
    if task.name == "classification" and "top" in item:
        lines = [_label(t, class_names) for t in item["top"][:3]]
        pen.text((3, 2), "\n".join(lines), fill=(255, 255, 0))
    return pic


def draw_predictions(task, images, decoded, names, folder: str, class_names=()) -> list:
    os.makedirs(folder, exist_ok=True)
    written = []
    for i, (image, item, name) in enumerate(zip(images, decoded, names)):
        stem = os.path.splitext(os.path.basename(name.split("[")[0]))[0] or "input"
        path = os.path.join(folder, f"{i:03d}_{stem}.png")
        draw_one(task, image, item, class_names).save(path)
        written.append(path)
    return written
