"""Checking a weights file someone else made before any array of it is read.

Every weights file kspec opens (`init:` `.keras`, `.weights.h5` and Keras 2 `.h5` files,
Keras' cached `keras.applications` files, a run directory's `model.keras`) goes through
`checked_copy`: the file (a regular file, size bounded) is copied into a private folder,
and the copy is checked and then read, so nothing can swap it in between. The checks:
- HDF5: every link stays in the file (no external or soft links, no cycles); every
  dataset keeps its data in the file (no external storage, no virtual datasets), holds
  numbers, uses only HDF5's built-in filters, and declares no more bytes than the file
  stores for it (x100 where compressed), so a 7 KB file cannot make kspec allocate a
  terabyte of fill values, nor read `/etc/passwd` into a kernel;
- `.keras` (a zip): member names stay inside the archive, each member declares a bounded
  size and expands at most x100, and its `model.weights.h5` passes the HDF5 checks.

Hand-written because h5py and zipfile follow whatever the file declares.
"""
from __future__ import annotations

import contextlib
import math
import os
import posixpath
import shutil
import tempfile
import zipfile

from builder.untrusted import MB, UntrustedFileError, chunks

GB = 1 << 30
MAX_FILE_BYTES = 8 * GB  # the largest keras.applications file is about 1.4 GB
MAX_DECLARED_BYTES = 8 * GB  # all arrays of one file together
MAX_EXPANSION = 100  # compressed data (HDF5 or zip); DEFLATE of real weights is ~1.1x
UNCHECKED_BYTES = MB  # arrays this small may be fill values or compress without bound
MAX_OBJECTS = 200_000  # groups and datasets; ResNet-152 has about 1,500
MAX_DEPTH = 64  # groups within groups; Keras nests a model in a model a few levels deep
MAX_MEMBERS = 10_000  # zip members of a .keras file
MAX_JSON_BYTES = 64 * MB  # config.json and metadata.json, which Keras reads into memory
# HDF5's own filters (and h5py's LZF): anything else would load a plugin library.
BUILTIN_FILTERS = {1: "gzip", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit",
                   6: "scaleoffset", 32000: "lzf"}
# What h5py raises for a damaged file (UnicodeDecodeError is a ValueError): every reader of
# a checked copy turns these into its own message.
H5_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError)
WEIGHTS_MEMBER = "model.weights.h5"
RESAVE = "save it again with Keras (model.save or model.save_weights)"


class WeightsFileError(UntrustedFileError):
    """A weights file that kspec will not read; the message says why and what to do."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def size_text(n: int) -> str:
    for unit, scale in (("TB", 1 << 40), ("GB", GB), ("MB", MB)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


@contextlib.contextmanager
def checked_copy(path: str, what: str = "weights file"):
    """Yields the path of a checked private copy of `path` (a .keras zip or an HDF5 file,
    told by its suffix); removed afterwards. WeightsFileError if it fails a check."""
    folder = tempfile.mkdtemp(prefix="kspec-weights-")
    try:
        suffix = ".weights.h5" if path.endswith(".weights.h5") else os.path.splitext(path)[1]
        copy = os.path.join(folder, "source" + suffix)
        _copy_regular_file(path, copy, what)
        if suffix == ".keras":
            check_keras(copy, path, folder)
        else:
            check_h5(copy, path)
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _copy_regular_file(path: str, dest: str, what: str) -> None:
    """Copies at most MAX_FILE_BYTES of a regular file, read as every untrusted file is
    (`builder.untrusted.chunks`: no FIFO waited on, the size checked on the descriptor)."""
    try:
        with open(dest, "xb") as out:
            for chunk in chunks(path, MAX_FILE_BYTES, what, 16 * MB):
                out.write(chunk)
    except WeightsFileError:
        raise
    except UntrustedFileError as exc:
        reason = str(exc)[len(path) + 2:] if str(exc).startswith(f"{path}: ") else str(exc)
        raise WeightsFileError(path, reason) from None


# -- HDF5 ---------------------------------------------------------------------------------
def check_h5(path: str, shown: str | None = None) -> None:
    """Refuses an HDF5 file that reads outside itself or declares more than it holds."""
    import h5py
    shown = shown or path
    size = os.path.getsize(path)
    try:
        with h5py.File(path, "r") as f:
            declared = _walk(f, shown, size)
    except WeightsFileError:
        raise
    except H5_ERRORS as exc:
        raise WeightsFileError(shown, f"not a readable HDF5 weights file "
                               f"({_first_line(exc)})") from None
    if declared > MAX_DECLARED_BYTES:
        raise WeightsFileError(shown, f"its arrays declare {size_text(declared)} in all, "
                               f"over the {size_text(MAX_DECLARED_BYTES)} kspec reads")


def _walk(f, shown: str, file_size: int) -> int:
    """Visits every link once (depth first, without recursion); returns the bytes all
    datasets declare."""
    import h5py
    seen, stack, declared = set(), [("", f)], 0
    while stack:
        prefix, group = stack.pop()
        if prefix.count("/") > MAX_DEPTH:
            raise WeightsFileError(shown, f"{prefix[:200]} nests groups over {MAX_DEPTH} "
                                   "deep; not a weights file Keras writes")
        if len(seen) + len(group) > MAX_OBJECTS:
            raise WeightsFileError(shown, f"holds over {MAX_OBJECTS:,} groups and "
                                   "datasets; not a weights file Keras writes")
        for key in group:
            name = f"{prefix}/{key}"
            link = group.get(key, getlink=True)
            if link is None:
                raise WeightsFileError(shown, f"{name} is a link HDF5 cannot read; the file "
                                       f"is damaged: {RESAVE}")
            if not isinstance(link, h5py.HardLink):
                target = f" to {link.filename}:{link.path}" \
                    if isinstance(link, h5py.ExternalLink) else ""
                raise WeightsFileError(shown, f"{name} is a {type(link).__name__}"
                                       f"{target}; kspec reads weights only from the file "
                                       f"itself: {RESAVE}")
            obj = group[key]
            if obj.id in seen:
                raise WeightsFileError(shown, f"{name} links back to an object already "
                                       f"seen; {RESAVE}")
            seen.add(obj.id)
            if isinstance(obj, h5py.Dataset):
                declared += _check_dataset(obj, name, shown, file_size)
            elif isinstance(obj, h5py.Group):
                stack.append((name, obj))
            else:
                raise WeightsFileError(shown, f"{name} is a {type(obj).__name__}, not a "
                                       "group or dataset")
    return declared


def _check_dataset(d, name: str, shown: str, file_size: int) -> int:
    import h5py
    if d.is_virtual:
        raise WeightsFileError(shown, f"dataset {name} is a virtual dataset (its data "
                               f"lives in other files); {RESAVE}")
    if d.external:
        files = ", ".join(str(e[0]) for e in d.external[:3])
        raise WeightsFileError(shown, f"dataset {name} keeps its data in another file "
                               f"({files}; HDF5 external storage); {RESAVE}")
    dt = d.dtype
    if not (dt.kind in "biuf" or is_bfloat16(d)) or dt.fields or dt.subdtype:
        raise WeightsFileError(shown, f"dataset {name} holds {dt} values, not numbers; "
                               f"{RESAVE}")
    plist = d.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    unknown = [code for code in filters if code not in BUILTIN_FILTERS]
    if unknown:
        raise WeightsFileError(shown, f"dataset {name} needs HDF5 filter {unknown[0]}, "
                               "which is no built-in filter (kspec loads no filter "
                               f"plugins); {RESAVE}")
    declared = math.prod(d.shape or ()) * dt.itemsize if d.shape is not None else 0
    stored = d.id.get_storage_size()
    allowed = stored * (MAX_EXPANSION if filters else 1)
    if declared > max(allowed, UNCHECKED_BYTES):
        raise WeightsFileError(shown, f"dataset {name} declares {size_text(declared)} "
                               f"(shape {d.shape}, {dt}) but the file stores "
                               f"{size_text(stored)} of it; the file is damaged or not one "
                               f"Keras wrote: {RESAVE}")
    if plist.get_layout() == h5py.h5d.CONTIGUOUS:
        offset = d.id.get_offset()
        if offset is not None and offset + stored > file_size:
            raise WeightsFileError(shown, f"dataset {name} lies past the end of the file "
                                   f"({file_size} bytes); the file was cut short: copy it "
                                   "again")
    return declared


def is_bfloat16(d) -> bool:
    """Keras stores bfloat16 arrays as 2-byte opaque values with a `dtype` attribute."""
    return d.dtype.kind == "V" and d.dtype.itemsize == 2 and d.attrs.get("dtype") == "bfloat16"


# -- .keras (zip) --------------------------------------------------------------------------
def check_keras(path: str, shown: str, folder: str) -> None:
    """Refuses a .keras archive with escaping names, oversized or over-compressed members,
    or a weights member that fails `check_h5` (checked from an extracted copy)."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            if len(members) > MAX_MEMBERS:
                raise WeightsFileError(shown, f"the archive holds {len(members):,} files, "
                                       f"over the {MAX_MEMBERS:,} a .keras file may have")
            total = 0
            for info in members:
                _check_member(info, shown)
                total += info.file_size
            if total > MAX_DECLARED_BYTES:
                raise WeightsFileError(shown, f"its files declare {size_text(total)} in "
                                       f"all, over the {size_text(MAX_DECLARED_BYTES)} kspec "
                                       "reads")
            if WEIGHTS_MEMBER not in zf.namelist():
                return  # a model without weights: Keras builds it, nothing to read
            weights = os.path.join(folder, "checked.weights.h5")
            with zf.open(WEIGHTS_MEMBER) as src, open(weights, "xb") as out:
                shutil.copyfileobj(src, out, 16 * MB)  # zipfile stops at the declared size
    except WeightsFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError, RuntimeError) as exc:
        raise WeightsFileError(shown, f"not a readable .keras archive "
                               f"({_first_line(exc)})") from None
    try:
        check_h5(weights, f"{shown} ({WEIGHTS_MEMBER})")
    finally:
        os.remove(weights)


def _check_member(info, shown: str) -> None:
    name = info.filename
    parts = name.replace("\\", "/").split("/")
    if not name or "\0" in name or name.startswith(("/", "\\")) or ".." in parts or \
            ":" in parts[0] or posixpath.normpath(name.replace("\\", "/")).startswith(".."):
        raise WeightsFileError(shown, f"the archive names a file {name!r} outside itself; "
                               f"{RESAVE}")
    if info.file_size > MAX_DECLARED_BYTES:
        raise WeightsFileError(shown, f"{name} in the archive declares "
                               f"{size_text(info.file_size)}, over the "
                               f"{size_text(MAX_DECLARED_BYTES)} kspec reads")
    if name.endswith(".json") and info.file_size > MAX_JSON_BYTES:
        raise WeightsFileError(shown, f"{name} in the archive declares "
                               f"{size_text(info.file_size)}, over the "
                               f"{size_text(MAX_JSON_BYTES)} a model's description may take")
    if info.file_size > max(UNCHECKED_BYTES, MAX_EXPANSION * info.compress_size):
        raise WeightsFileError(shown, f"{name} in the archive declares "
                               f"{size_text(info.file_size)} from "
                               f"{size_text(info.compress_size)} stored (over x"
                               f"{MAX_EXPANSION}); the file is damaged or not one Keras "
                               f"wrote: {RESAVE}")


def _first_line(exc) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
