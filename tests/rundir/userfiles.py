"""A folder of someone else's files, and a fingerprint of every byte in it: the data-loss
tests fill a folder with names that look like kspec's (temporaries, `.old` folders, a
spec, metrics, checkpoints) and assert that it is exactly as it was afterwards."""
import hashlib
import os
import shutil
import subprocess

USER_FILES = {
    "photos/a.jpg": b"\xff\xd8 a photo",
    "photos.old/b.jpg": b"\xff\xd8 an older photo",
    ".notes.txt.abcd1234.tmp": b"notes being saved by an editor",
    ".model.keras.ab12cd_3.tmp.keras": b"looks like an old kspec temporary",
    ".savedmodel.x1y2z3w4.tmp/keep.txt": b"so does this folder",
    "sm.old/saved_model.pb": b"someone's older SavedModel",
    "spec.yaml": b"name: their own spec\n",
    "metrics.jsonl": b'{"their": "metrics"}\n{"torn',
    "checkpoints/last/checkpoint": b'model_checkpoint_path: "ckpt-7"\n',
    "checkpoints/last/ckpt-7.index": b"another model's weights",
}


def fill(folder, files=USER_FILES) -> None:
    for name, data in files.items():
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)


def fingerprint(folder) -> dict:
    """{relative path: sha256 of a file, or "folder"} of everything under `folder`."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for d in dirs:
            found[os.path.relpath(os.path.join(root, d), folder)] = "folder"
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                found[os.path.relpath(os.path.join(root, f), folder)] = hashlib.sha256(
                    fh.read()).hexdigest()
    return found


def can_mount_read_only(probe) -> bool:
    """Whether this machine lets a test mount a folder read-only in a private mount
    namespace (`unshare -m`, as root): the only way a root process meets a read-only
    folder, since root ignores permission bits. `probe`: an empty folder to try it on."""
    if shutil.which("unshare") is None:
        return False
    try:
        res = subprocess.run(read_only(probe, ["touch", os.path.join(probe, "written")]),
                             capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return res.returncode != 0 and b"Read-only file system" in res.stderr


def read_only(folder, cmd) -> list:
    """`cmd` run with `folder` mounted read-only (in a mount namespace of its own)."""
    import shlex
    quoted = shlex.quote(str(folder))
    return ["unshare", "-m", "sh", "-c", f"mount --bind {quoted} {quoted} && mount -o "
            f"remount,bind,ro {quoted} && exec {' '.join(shlex.quote(str(a)) for a in cmd)}"]
