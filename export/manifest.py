"""The exports folder's bookkeeping: sizes and hashes, `manifest.json`, which files are ours.

The manifest is written last and atomically, so it only ever lists artifacts that
were verified and renamed into place. An earlier manifest is input like any other: its
entries are kept only while the artifact they name still has the size and sha256 they
record (else dropped, with a note); one that cannot be read (torn, edited) is replaced,
with a note, rather than stopping every later export.

Every path in a manifest is absolute: an artifact may lie outside the manifest's folder
(a one-artifact `--out` elsewhere, listed in RUN_DIR/exports/), where a path relative
to the manifest would break as soon as either is moved; an absolute path names the
same file from any working directory.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import time

from builder.untrusted import UntrustedFileError, read_json
from rundir.layout import versions

MANIFEST = "manifest.json"
MANIFEST_LIMIT = 4 << 20  # a manifest lists a handful of artifacts: a few kB


def _files(path: str) -> list[tuple[str, str]]:
    """(name inside the artifact, path) of each file of an artifact, in a fixed order.
    ValueError for anything but regular files and folders: no artifact holds a link, a
    pipe or a device, and reading one could block or never end."""
    mode = os.lstat(path).st_mode
    if stat.S_ISREG(mode):
        return [("", path)]
    if not stat.S_ISDIR(mode):
        raise ValueError("not a regular file or folder")
    found = []
    for root, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names) + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            full = os.path.join(root, name)
            if not stat.S_ISREG(os.lstat(full).st_mode):
                raise ValueError(f"holds {os.path.relpath(full, path)}, not a regular file")
            found.append((os.path.relpath(full, path), full))
    return sorted(found)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    for name, full in _files(path):
        if name:
            h.update(name.encode())
        with open(full, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def size(path: str) -> int:
    return sum(os.lstat(full).st_size for _, full in _files(path))


def problem(entry: dict) -> str | None:
    """Why a manifest entry no longer describes its artifact, or None when it does. The
    size is compared first: a file of another size is not hashed at all."""
    path = entry["path"]
    if not os.path.lexists(path):
        return "missing"
    try:
        if size(path) != entry["bytes"] or sha256(path) != entry["sha256"]:
            return "differs from the manifest (size or sha256)"
    except (OSError, ValueError) as exc:
        return f"cannot be checked ({getattr(exc, 'strerror', None) or exc})"
    return None


def _well_formed(entry) -> bool:
    return (isinstance(entry, dict) and isinstance(entry.get("path"), str)
            and os.path.isabs(entry["path"]) and type(entry.get("bytes")) is int
            and isinstance(entry.get("sha256"), str))


def read_artifacts(folder: str) -> tuple[list, list[str]]:
    """The well-formed entries of the folder's manifest, and notes on what was not."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.lexists(path):
        return [], []
    try:
        data = read_json(path, MANIFEST_LIMIT, "manifest")
    except UntrustedFileError:
        data = None
    artifacts = data.get("artifacts") if isinstance(data, dict) else None
    if not isinstance(artifacts, list):
        return [], [f"{path} was unreadable and is replaced by a new one"]
    kept = [a for a in artifacts if _well_formed(a)]
    dropped = len(artifacts) - len(kept)
    return kept, [f"{path}: dropped {dropped} entr{'y' if dropped == 1 else 'ies'} without "
                  "an absolute path, a size and a sha256"] if dropped else []


def is_manifest(folder: str) -> bool:
    """Whether `folder/manifest.json` is one kspec wrote (so it may be replaced)."""
    try:
        data = read_json(os.path.join(folder, MANIFEST), MANIFEST_LIMIT, "manifest")
    except UntrustedFileError:
        return False
    return isinstance(data, dict) and {"run", "versions", "artifacts"} <= set(data)


def lists(folder: str, path: str) -> bool:
    """Whether the folder's manifest lists `path` with its present size and sha256: an
    artifact kspec exported, unchanged since, which a new export may replace."""
    entries, _ = read_artifacts(folder)
    return any(a["path"] == path and problem(a) is None for a in entries)


def write_manifest(folder: str, run, rows, staging) -> list[str]:
    """Adds this export's verified artifacts to the folder's manifest (written in
    `staging`, then renamed into place); returns notes on what was dropped or replaced."""
    old, notes = read_artifacts(folder)
    new = [r for r in rows if r.get("passed") and "path" in r]
    now = {a["path"] for a in new}
    kept = []
    for a in (a for a in old if a["path"] not in now):
        why = problem(a)
        if why:
            notes.append(f"{a['path']} was dropped from the manifest: {why}")
        else:
            kept.append(a)
    manifest = {"run": os.path.abspath(run.path), "weights": os.path.abspath(run.weights),
                "spec_sha256": run.info.get("spec_sha256"),
                "versions": versions(),
                "written": time.strftime("%Y-%m-%dT%H:%M:%S"), "artifacts": kept + new}
    tmp = staging.scratch(MANIFEST)
    with open(tmp, "w") as fh:
        fh.write(json.dumps(manifest, indent=1, default=str) + "\n")
    staging.place(tmp, os.path.join(folder, MANIFEST))
    return notes


def check_manifest(folder: str) -> list[str]:
    """Problems with the artifacts a manifest lists: missing, resized or changed files."""
    entries, notes = read_artifacts(folder)
    return notes + [f"{a['path']}: {why}" for a in entries for why in [problem(a)] if why]
