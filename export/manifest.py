"""The exports folder's bookkeeping: sizes and hashes, `manifest.json`, leftovers.

The manifest is written last and atomically, so it only ever lists artifacts that
were verified and renamed into place. A manifest that cannot be read (torn, edited)
is replaced, with a note, rather than stopping every later export.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time

from rundir.atomic import write_text
from rundir.layout import versions

MANIFEST = "manifest.json"
# What `rundir.atomic.atomic_path` leaves when its process is killed: `.NAME.XXXX.tmpSUFFIX`
# (and `NAME.old` while a folder is being swapped).
_LEFTOVER = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp[.\w]*$")


def sha256(path: str) -> str:
    h = hashlib.sha256()
    if os.path.isdir(path):
        for root, _, files in sorted(os.walk(path)):
            for f in sorted(files):
                with open(os.path.join(root, f), "rb") as fh:
                    h.update(os.path.relpath(os.path.join(root, f), path).encode())
                    h.update(fh.read())
    else:
        with open(path, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()


def size(path: str) -> int:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)
    return os.path.getsize(path)


def clean_leftovers(folder: str) -> list[str]:
    """Removes temporaries of exports that were killed; returns their names."""
    removed = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        swapped = name.endswith(".old") and os.path.isdir(os.path.join(folder, name[:-4]))
        if _LEFTOVER.search(name) or swapped:
            path = os.path.join(folder, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
            removed.append(name)
    return removed


def read_artifacts(folder: str) -> tuple[list, str | None]:
    """The artifacts an existing manifest lists, and a note when it was unreadable."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.exists(path):
        return [], None
    try:
        with open(path) as fh:
            artifacts = json.load(fh)["artifacts"]
        if isinstance(artifacts, list) and all(isinstance(a, dict) and "path" in a
                                               for a in artifacts):
            return artifacts, None
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return [], f"{path} was unreadable and is replaced by a new one"


def write_manifest(folder: str, run, rows) -> str | None:
    """Adds this export's verified artifacts to the folder's manifest; returns a note if
    the old manifest had to be replaced."""
    old, note = read_artifacts(folder)
    new = [r for r in rows if r.get("passed") and "path" in r]
    now = {a["path"] for a in new}
    kept = [a for a in old if a["path"] not in now and os.path.exists(a["path"])]
    manifest = {"run": os.path.abspath(run.path), "weights": run.weights,
                "spec_sha256": run.info.get("spec_sha256"),
                "versions": versions(),
                "written": time.strftime("%Y-%m-%dT%H:%M:%S"), "artifacts": kept + new}
    os.makedirs(folder, exist_ok=True)
    write_text(os.path.join(folder, MANIFEST), json.dumps(manifest, indent=1, default=str) + "\n")
    return note


def check_manifest(folder: str) -> list[str]:
    """Problems with the artifacts a manifest lists: missing, resized or changed files."""
    with open(os.path.join(folder, MANIFEST)) as fh:
        artifacts = json.load(fh)["artifacts"]
    problems = []
    for a in artifacts:
        if not os.path.exists(a["path"]):
            problems.append(f"{a['path']}: missing")
        elif size(a["path"]) != a["bytes"] or sha256(a["path"]) != a["sha256"]:
            problems.append(f"{a['path']}: differs from the manifest (size or sha256)")
    return problems
