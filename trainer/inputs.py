"""The inputs of `kspec predict` and `kspec embed`: .npy batches and image files, each
checked before it is decoded, and the `--out` file `embed` writes.

- A .npy file is read whole (a regular file of bounded size) and its header parsed first:
  the shape and dtype it declares must be numbers that fill exactly the bytes that follow,
  so a 193-byte file cannot declare 10^8 samples; no pickled objects.
- An image is a regular file of bounded size whose first bytes are those of a PNG, JPEG,
  GIF or BMP file, and whose declared pixel count is bounded before it is decoded.
- A sample with NaN or infinite values is named, instead of giving NaN scores.

Hand-written because `np.load` allocates what the header declares, and TensorFlow
decodes whatever a header declares.
"""
from __future__ import annotations

import io
import math
import os

import numpy as np

from builder.untrusted import MB, read_bytes
from rundir.weights_files import size_text as _size

MAX_NPY_BYTES = 1 << 30  # one .npy file
MAX_VALUES = 1 << 29  # all inputs together, as float32 (2 GB)
MAX_IMAGE_BYTES = 64 * MB
MAX_PIXELS = 1 << 26  # 8192 x 8192
NPY_MAGIC = b"\x93NUMPY"
IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF87a": "GIF",
               b"GIF89a": "GIF", b"BM": "BMP"}


def read_inputs(paths, input_section: dict):
    """Image files or .npy batches (raw 0..255 pixels) -> (names, raw uint8-range float array)."""
    from tasks.data.folder import IMAGE_SUFFIXES
    shape = tuple(input_section["shape"])
    names, arrays, values = [], [], 0
    for path in paths:
        if path.endswith(".npy"):
            batch = read_npy(path)
            if batch.size == 0:
                raise ValueError(f"{path}: the array holds no samples (shape {batch.shape})")
            if batch.shape[1:] != shape and batch.shape != shape:
                raise ValueError(f"{path}: array shape {batch.shape} does not fit the model's "
                                 f"input {shape} (with or without a batch axis)")
            batch = batch.reshape((-1,) + shape)
            sample_names = [f"{path}[{i}]" for i in range(len(batch))]
        elif path.lower().endswith(IMAGE_SUFFIXES):
            batch, sample_names = read_image(path, shape)[None], [path]
        else:
            raise ValueError(f"{path}: expected an image ({', '.join(IMAGE_SUFFIXES)}) or .npy")
        values += batch.size
        if values > MAX_VALUES:
            raise ValueError(f"{path}: the inputs hold over {MAX_VALUES:,} values in all "
                             f"({_size(4 * MAX_VALUES)} as float32); give fewer at a time")
        with np.errstate(over="ignore"):  # beyond float32's range: check_finite names it
            batch = batch.astype(np.float32)
        check_finite(batch, sample_names)
        names += sample_names
        arrays.append(batch)
    return names, np.concatenate(arrays)


def read_npy(path: str) -> np.ndarray:
    """A .npy file of numbers whose header agrees with its size; ValueError otherwise."""
    data = read_bytes(path, MAX_NPY_BYTES, ".npy file")
    if not data.startswith(NPY_MAGIC):
        raise ValueError(f"{path}: not a NumPy .npy file")
    fh = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"format version {version[0]}.{version[1]}, not 1.0 or 2.0")
    except Exception as exc:  # numpy's header parser raises ValueError, SyntaxError,
        # tokenize.TokenError...; the header is at most 10,000 bytes, so nothing is large
        raise ValueError(f"{path}: a .npy file whose header cannot be read "
                         f"({str(exc).splitlines()[0][:200]})") from None
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields or dtype.subdtype:
        raise ValueError(f"{path}: a .npy file that cannot be read as numbers (it holds "
                         f"{dtype} values); save an array of numbers")
    count = math.prod(shape)
    declared, body = count * dtype.itemsize, len(data) - fh.tell()
    if any(n < 0 for n in shape) or declared != body:
        raise ValueError(f"{path}: the .npy header declares shape {shape} of {dtype} "
                         f"({_size(declared)}) but the file holds {_size(body)} after it; "
                         "the file is damaged or cut short")
    array = np.frombuffer(data, dtype, count=count, offset=fh.tell())
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def read_image(path: str, shape: tuple) -> np.ndarray:
    """An image file decoded to `shape` (height, width, channels), checked first."""
    import tensorflow as tf
    from PIL import Image
    data = read_bytes(path, MAX_IMAGE_BYTES, "image")
    if not any(data.startswith(magic) for magic in IMAGE_MAGIC):
        raise ValueError(f"{path}: not a readable image (its first bytes {data[:8]!r} are "
                         "those of no PNG, JPEG, GIF or BMP file)")
    try:
        with Image.open(io.BytesIO(data), formats=sorted(set(IMAGE_MAGIC.values()))) as img:
            # TensorFlow decodes every frame of a GIF before it keeps the first
            width, height, frames = *img.size, getattr(img, "n_frames", 1)
    except Image.DecompressionBombError:  # Pillow's own bound, above kspec's
        raise ValueError(f"{path}: the image declares over {2 * Image.MAX_IMAGE_PIXELS:,} "
                         f"pixels, over the {MAX_PIXELS:,} kspec decodes; resize it first") \
            from None
    except (OSError, SyntaxError, ValueError):
        raise ValueError(f"{path}: not a readable image (corrupt, empty or another "
                         "format)") from None
    if width * height * frames > MAX_PIXELS:
        shown = f"{frames} frames of {width}x{height}" if frames > 1 else f"{width}x{height}"
        raise ValueError(f"{path}: the image is {shown} pixels, over the {MAX_PIXELS:,} "
                         "kspec decodes; resize it first")
    try:
        img = tf.io.decode_image(data, channels=shape[2], expand_animations=False)
    except (tf.errors.OpError, ValueError):
        raise ValueError(f"{path}: not a readable image (corrupt, empty or another "
                         "format)") from None
    return tf.image.resize(img, shape[:2]).numpy()


def check_finite(batch: np.ndarray, names: list) -> None:
    """NaN or infinite inputs give NaN outputs that look like results: name the first."""
    finite = np.isfinite(batch.reshape(len(batch), -1)).all(axis=1)
    if not finite.all():
        first = int(np.argmin(finite))
        raise ValueError(f"{names[first]}: holds NaN or infinite values (or values beyond "
                         f"float32's range); {int((~finite).sum())} sample(s) of "
                         f"{len(batch)} do; give finite numbers")


def embed_target(out: str) -> str:
    """The .npy file `kspec embed --out OUT` writes: OUT itself, with `.npy` added only if
    it was left out. A folder, a file that is not a .npy, or a missing parent folder is
    a ValueError (nothing is written)."""
    path = out if out.endswith(".npy") else out + ".npy"
    if not out or os.path.isdir(out) or out.endswith(os.sep) or os.path.isdir(path):
        raise ValueError(f"--out {out}: is a folder; name the .npy file to write "
                         f"(for example {os.path.join(out or '.', 'features.npy')})")
    if os.path.lexists(out) and out != path:
        raise ValueError(f"--out {out}: an existing file that is not a .npy; name a .npy "
                         "file to write")
    if os.path.lexists(path) and not os.path.isfile(path):
        raise ValueError(f"--out {path}: exists and is not a regular file; name another")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"--out {out}: the folder {parent} does not exist; create it first")
    return path

