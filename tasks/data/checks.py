"""Checks before the first step: the dataset against the spec's input and the task.

A mismatch is a DataError naming the dataset, split and field, never a shape
error deep inside the graph.
"""
from __future__ import annotations

from .sources import DataError, Source


def check_data(source: Source, spec, task) -> list[str]:
    """Raises DataError on a mismatch; returns notes on conversions that will happen."""
    notes = list(source.notes)
    want = tuple(spec.input["shape"])
    elem = source.splits["train"].element_spec
    if "features" in elem:
        got = tuple(elem["features"].shape)
        if got != want:
            raise DataError(f"dataset {source.name}, split train, field features: shape {got} "
                            f"does not fit the spec's input shape {want}")
    elif "image" in elem:
        img = elem["image"]
        if len(want) != 3:
            raise DataError(f"dataset {source.name}, split train, field image: images do not fit "
                            f"the spec's input shape {list(want)}; use an input of [h, w, c]")
        if img.shape.rank != 3:
            raise DataError(f"dataset {source.name}, split train, field image: expected "
                            f"[height, width, channels], received shape {img.shape}")
        have_c = img.shape[-1]
        if have_c != want[2]:
            if {have_c, want[2]} != {1, 3}:
                raise DataError(f"dataset {source.name}, split train, field image: {have_c} "
                                f"channels cannot feed the spec's {want[2]}")
            notes.append(f"images converted from {have_c} to {want[2]} channel(s)")
        have = tuple(source.image_shape[:2]) if source.image_shape else tuple(img.shape[:2])
        if None in have:  # sizes differ, or are known only image by image
            notes.append(f"images resized to {want[:2]} where their size differs")
        elif have != want[:2]:
            notes.append(f"images resized from {have} to {want[:2]}")
    else:
        raise DataError(f"dataset {source.name}, split train: no image or features field")
    return notes + (task.check_source(source) or [])
