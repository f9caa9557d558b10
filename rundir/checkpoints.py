"""Which checkpoints a run directory holds, and which of them can really be read.

TensorFlow's `latest_checkpoint` trusts the pointer file: with the pointer missing or
garbled it answers None (and a resume would start over), and it names a checkpoint
whose files were truncated (and the restore fails). Here the files themselves are the
truth: checkpoints are listed from their `.index` files, newest first, and one counts
as intact only when every tensor in it reads back (TF's bundle format checks each
tensor's CRC32C on read, so a torn `.data` file is caught).
"""
from __future__ import annotations

import os
import re
import shutil

_INDEX = re.compile(r"^ckpt-(\d+)\.index$")
# A save killed half-way leaves TF's temporary shard folder `ckpt-N_temp/` (or similar).
_TEMP = re.compile(r"^ckpt-\d+_temp")


def listed(folder: str) -> list[str]:
    """Checkpoint prefixes in `folder`, newest (highest step) first."""
    if not os.path.isdir(folder):
        return []
    numbers = sorted((int(m.group(1)) for name in os.listdir(folder)
                      for m in [_INDEX.match(name)] if m), reverse=True)
    return [os.path.join(folder, f"ckpt-{n}") for n in numbers]


def has_any(folder: str) -> bool:
    """True when `folder` holds checkpoint files of any kind (intact or not)."""
    return os.path.isdir(folder) and any(n.startswith("ckpt-") or n == "checkpoint"
                                         for n in os.listdir(folder))


def unreadable(prefix: str) -> str | None:
    """Why the checkpoint at `prefix` cannot be restored, or None when every tensor reads."""
    import tensorflow as tf
    folder, base = os.path.split(prefix)
    if not any(n.startswith(f"{base}.data-") for n in os.listdir(folder or ".")):
        return "its .data file is missing"
    try:
        reader = tf.train.load_checkpoint(prefix)
        declared = _declared_bytes(reader)
        held = sum(os.path.getsize(os.path.join(folder or ".", n))
                   for n in os.listdir(folder or ".") if n.startswith(f"{base}.data-"))
        if declared > held:
            # A truncated .data file, or an index from anyone: its shapes are never
            # allocated before the data files are known to hold them.
            return "truncated or corrupt"
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError, OSError) as exc:
        return _reason(exc)
    return None


def _declared_bytes(reader) -> int:
    """What the fixed-size tensors of a checkpoint's index take once read (strings,
    whose size the index does not say, count nothing)."""
    dtypes = reader.get_variable_to_dtype_map()
    total = 0
    for name, shape in reader.get_variable_to_shape_map().items():
        size = dtypes[name].size  # 0 for strings
        for dim in shape:
            size *= max(int(dim), 0)
        total += size
    return total


def _reason(exc) -> str:
    text = str(exc).lower()
    for words, reason in ((("truncated", "bad magic", "corrupt", "checksum", "crc", "read less",
                            "out of range", "invalid argument", "not an sstable"), "truncated "
                           "or corrupt"), (("not found", "no such file"), "files missing")):
        if any(w in text for w in words):
            return reason
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first[:120]


def _number(prefix: str) -> int:
    m = re.search(r"ckpt-(\d+)$", prefix)
    return int(m.group(1)) if m else -1


def pointed_at(folder: str) -> str | None:
    """The checkpoint the pointer file names, if the file is there and readable."""
    from builder.untrusted import UntrustedFileError, read_text
    try:  # a pointer of ours is a few hundred bytes; anything huge is not one
        text = read_text(os.path.join(folder, "checkpoint"), 1 << 20, "checkpoint pointer")
    except UntrustedFileError:
        return None
    m = re.search(r'^model_checkpoint_path:\s*"([^"]+)"', text, re.M)
    return os.path.basename(m.group(1)) if m else None


def newest_intact(folder: str) -> tuple[str | None, list[str]]:
    """The newest checkpoint that reads back, and a line for each newer one that does not
    (a checkpoint the pointer names whose files are gone counts as one)."""
    prefixes = listed(folder)
    named = pointed_at(folder)
    skipped = []
    newest = _number(prefixes[0]) if prefixes else -1
    if named and _number(named) > newest:
        skipped.append(f"{named} (named by the pointer file) is missing")
    for prefix in prefixes:
        why = unreadable(prefix)
        if why is None:
            return prefix, skipped
        skipped.append(f"{os.path.basename(prefix)} is unreadable ({why})")
    return None, skipped


def remove(prefix: str) -> None:
    """Deletes the files of one checkpoint."""
    folder, base = os.path.split(prefix)
    for name in os.listdir(folder):
        if name == f"{base}.index" or name.startswith(f"{base}.data-"):
            os.unlink(os.path.join(folder, name))


def remove_temporaries(folder: str) -> list[str]:
    """Deletes what saves killed half-way left behind; returns the names."""
    gone = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if _TEMP.match(name):
            path = os.path.join(folder, name)
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.unlink(path)
            gone.append(name)
    return gone


def size_of(prefix: str) -> int:
    """Bytes on disk of one checkpoint (to say how much space a save needs)."""
    folder, base = os.path.split(prefix)
    return sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder)
               if n == f"{base}.index" or n.startswith(f"{base}.data-"))


def best_or_last(checkpoints: str) -> tuple[str | None, list[str]]:
    """The weights a finished run is used with: the newest intact best, else last."""
    notes = []
    for kind in ("best", "last"):
        prefix, skipped = newest_intact(os.path.join(checkpoints, kind))
        notes += [f"{kind}/{line}" for line in skipped]
        if prefix:
            return prefix, notes
    return None, notes
