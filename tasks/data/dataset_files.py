"""Opening the files a dataset folder names: inside its roots, bounded, of a known kind.

A dataset is someone else's folder. Its annotation files are read through
`builder.untrusted` (regular files only, sizes bounded before reading, strict UTF-8 and
JSON), and every file it names (an image, a labels file, a mask) must resolve, after
symlinks, inside the dataset's roots: its own folder and any folder its `data.yaml`
names with `path:`. An image must be one of the formats training decodes, told by its
first bytes, not by its name.
"""
from __future__ import annotations

import os

from builder import untrusted

from .sources import DataError

MAX_ANNOTATION_BYTES = 1 << 30   # COCO's instances_train2017.json is 450 MB
MAX_TEXT_BYTES = 64 << 20        # classes.txt, image lists, labels, data.yaml, boxes.csv
MAX_IMAGE_BYTES = 256 << 20

# What tf.io.decode_image reads (kspec's training decodes every image with it).
MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"),
         (b"GIF89a", "GIF"), (b"BM", "BMP"))
OTHER_MAGIC = ((b"II*\0", "TIFF"), (b"MM\0*", "TIFF"), (b"\0\0\1\0", "ICO"),
               (b"RIFF", "RIFF (WebP?)"), (b"P1", "PBM"), (b"P2", "PGM"), (b"P3", "PPM"),
               (b"P4", "PBM"), (b"P5", "PGM"), (b"P6", "PPM"), (b"%PDF", "PDF"))


def read_text(path: str, what: str, roots=None, limit: int = MAX_TEXT_BYTES) -> str:
    return decode_text(read_bytes(path, what, limit, roots), path, what)


def decode_text(data: bytes, path: str, what: str) -> str:
    try:
        return untrusted.decode_text(data, path, what)
    except untrusted.UntrustedFileError as exc:
        raise DataError(str(exc)) from None


def read_json(path: str, what: str = "COCO annotation file", roots=None):
    text = read_text(path, what, roots, MAX_ANNOTATION_BYTES)
    try:
        return untrusted.parse_json(text, path)
    except untrusted.UntrustedFileError as exc:
        raise DataError(str(exc)) from None


def read_bytes(path: str, what: str, limit: int, roots=None) -> bytes:
    """The bytes of a file the dataset names: inside `roots` (when given), regular, at
    most `limit` bytes; DataError otherwise."""
    why = outside(path, roots) if roots else None
    if why:
        raise DataError(f"{path}: {why}")
    try:
        return untrusted.read_bytes(path, limit, what)
    except untrusted.UntrustedFileError as exc:
        raise DataError(str(exc)) from None


def outside(path: str, roots) -> str | None:
    """Why `path` may not be opened (it resolves outside every root), or None."""
    if "\0" in path:
        return "the name holds a NUL character"
    if untrusted.inside(path, roots):
        return None
    real = os.path.realpath(path)
    shown = " or ".join(os.path.realpath(r) for r in roots)
    return f"resolves to {real}, outside the dataset folder {shown}"


def image_format(head: bytes) -> tuple[str | None, str | None]:
    """(the format training decodes, or None; the format it is if another one is known)."""
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name, None
    for magic, name in OTHER_MAGIC:
        if head.startswith(magic):
            return None, name
    return None, None


def not_decodable(data: bytes, path: str) -> str | None:
    """Why training cannot decode these image bytes by their format, or None."""
    if not data:
        return "empty file"
    found, other = image_format(data[:16])
    if found:
        return None
    named = os.path.splitext(path)[1] or "without a suffix"
    kind = f"a {other} file" if other else "not a PNG, JPEG, GIF or BMP file"
    return f"{kind} named {named}; training decodes only PNG, JPEG, GIF and BMP"
