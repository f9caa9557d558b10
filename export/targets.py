"""Where an export's artifacts and manifest go, and which destinations it may replace.

Checked before anything is written: `--out` is never the file-system root, never a
file where a folder is meant, never a folder whose parent does not exist; and an
existing destination outside RUN_DIR/exports/ is replaced only when it is an artifact
kspec exported there (the manifest lists it with its present size and sha256), so a
user's file of the same name is never overwritten.
"""
from __future__ import annotations

import os

from rundir.ownership import is_root

from . import manifest

LEVELS = ("none", "float16", "dynamic", "int8")


class UsageError(ValueError):
    """Options that do not fit together, or a destination kspec must not write (exit 2)."""


def default_name(fmt: str, q: str) -> str:
    return {"savedmodel": "savedmodel", "keras": "model.keras", "onnx": "model.onnx",
            "tflite": f"model_{'float32' if q == 'none' else q}.tflite"}[fmt]


def plan(run_dir: str, formats, quantize: str, out: str | None) -> tuple[list, str]:
    """[(format, level, absolute destination)] and the folder the manifest goes to.

    One artifact: `out` is the artifact itself (a file, or the SavedModel folder).
    Several: `out` is a folder. Without `out`: RUN_DIR/exports/.
    """
    items = [(f, q) for f in formats
             for q in ((LEVELS if quantize == "all" else (quantize,)) if f == "tflite"
                       else ("none",))]
    exports = os.path.abspath(os.path.join(run_dir, "exports"))
    if out is None:
        if os.path.islink(exports):  # a run someone else made could point it anywhere
            raise UsageError(f"{exports} is a link; kspec exports into a folder of the run's "
                             "own: remove the link, or name a place with --out")
        return [(f, q, os.path.join(exports, default_name(f, q))) for f, q in items], exports
    out = os.path.abspath(out)
    if is_root(out):
        raise UsageError(f"--out {out} is the file-system root; name a folder (several "
                         "artifacts) or the artifact's own path (one)")
    _parent_exists(out)
    if len(items) > 1:
        if os.path.lexists(out) and not os.path.isdir(out):
            raise UsageError(f"--out {out} is a file; with several artifacts --out is a folder")
        if os.path.isdir(out) and os.path.lexists(os.path.join(out, manifest.MANIFEST)) \
                and not manifest.is_manifest(out):
            raise UsageError(f"--out {out} holds a {manifest.MANIFEST} that kspec did not "
                             "write; name another folder for the export")
        targets = [(f, q, os.path.join(out, default_name(f, q))) for f, q in items]
        for _, _, dest in targets:
            _refuse_unless_ours(dest, out)
        return targets, out
    (fmt, q), = items
    if fmt == "savedmodel":
        if os.path.lexists(out) and not os.path.isdir(out):
            raise UsageError(f"--out {out} is a file; a SavedModel is a folder: name a new "
                             "folder (it becomes the SavedModel)")
        if os.path.isdir(out) and os.listdir(out) and not os.path.exists(
                os.path.join(out, "saved_model.pb")):
            raise UsageError(f"--out {out} is a folder that holds something other than a "
                             "SavedModel; name a new folder (it becomes the SavedModel)")
    elif os.path.isdir(out):
        raise UsageError(f"--out {out} is a folder; with one format --out is the artifact "
                         f"itself, for example --out {os.path.join(out, default_name(fmt, q))}")
    _refuse_unless_ours(out, exports)
    return [(fmt, q, out)], exports


def _parent_exists(out: str) -> None:
    parent = os.path.dirname(out)
    if not os.path.isdir(parent):
        raise UsageError(f"--out {out}: the folder {parent} does not exist; create it first, "
                         "or name a path in an existing folder")


def _refuse_unless_ours(dest: str, manifest_folder: str) -> None:
    """An existing `dest` must be an artifact the manifest in `manifest_folder` lists with
    its present size and sha256 (an empty folder, for a SavedModel, holds nothing)."""
    if not os.path.lexists(dest) or (os.path.isdir(dest) and not os.path.islink(dest)
                                     and not os.listdir(dest)):
        return
    if not manifest.lists(manifest_folder, dest):
        raise UsageError(
            f"--out: {dest} exists and is not an artifact kspec exported there "
            f"({os.path.join(manifest_folder, manifest.MANIFEST)} does not list it with its "
            "present size and sha256); kspec does not overwrite it. Name a new path, or "
            "move it away first")
