"""An export writes only what it was asked to and removes only what it made: the user's
files beside an artifact survive byte for byte (real `kspec export` processes)."""
import glob
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, run
from tests.rundir.userfiles import can_mount_read_only, fill, fingerprint, read_only

pytestmark = pytest.mark.slow
KSPEC = [sys.executable, str(ROOT / "kspec_cli.py")]


def _export(run_dir, *args, **kw):
    return run([*KSPEC, "export", str(run_dir), *args], **kw)


@pytest.fixture
def user_folder(tmp_path):
    folder = tmp_path / "D"
    fill(folder)
    return folder


def test_an_export_among_user_files_leaves_them_byte_for_byte(trained, user_folder):
    before = fingerprint(user_folder)
    res = _export(trained, "--format", "tflite", "--out", str(user_folder / "model.tflite"))
    assert res.returncode == 0, res.stderr
    assert "removed" not in res.stderr
    after = fingerprint(user_folder)
    assert after.pop("model.tflite") and after == before
    for _ in range(2):  # the second replaces the first SavedModel; sm.old/ is the user's
        res = _export(trained, "--format", "savedmodel", "--out", str(user_folder / "sm"))
        assert res.returncode == 0, res.stderr
    after = fingerprint(user_folder)
    assert {k for k in after if k.startswith("sm/")} >= {"sm/saved_model.pb"}
    assert {k: v for k, v in after.items() if k != "sm" and not k.startswith("sm/")
            and k != "model.tflite"} == before


def test_a_killed_export_is_cleaned_up_and_nothing_else(trained, user_folder):
    """kill -9 in the middle of an export: the next one removes that export's own folder
    (its marker is there and no process holds it), and only that."""
    before = fingerprint(user_folder)
    proc = subprocess.Popen([*KSPEC, "export", str(trained), "--format", "savedmodel", "--out",
                             str(user_folder / "new_sm")], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not glob.glob(str(user_folder / ".kspec-export-*" / "new_sm")):
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (stopped,) = glob.glob(str(user_folder / ".kspec-export-*"))
    res = _export(trained, "--format", "keras", "--out", str(user_folder / "m.keras"))
    assert res.returncode == 0, res.stderr
    assert f"note: removed {stopped}, left by an export that was stopped" in res.stderr
    after = fingerprint(user_folder)
    assert after.pop("m.keras") and after == before


def test_two_exports_of_one_run_at_once(trained, tmp_path):
    """The second meets the first's lock: exit 2 naming its pid; the first ends well."""
    lock = trained / ".export.lock"
    first = subprocess.Popen([*KSPEC, "export", str(trained), "--format", "savedmodel", "--out",
                              str(tmp_path / "sm")], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
        assert time.time() < deadline and first.poll() is None
        time.sleep(0.02)
    second = _export(trained, "--format", "savedmodel", "--out", str(tmp_path / "sm2"))
    _, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err
    assert second.returncode == 2
    assert second.stderr == (f"kspec export: {trained} is in use by another export (pid "
                             f"{first.pid}); wait for it to finish\n")
    assert (tmp_path / "sm" / "saved_model.pb").is_file()
    assert sorted(os.listdir(tmp_path)) == ["sm"]


def test_a_running_exports_folder_is_never_removed(tmp_path):
    """Exports of two runs into one folder: a staging folder whose export is alive stays;
    one whose process was killed goes."""
    from export.staging import Staging, clean_stopped
    code = ("import os, sys; from export.staging import Staging; Staging(sys.argv[1]); "
            "os.kill(os.getpid(), 9)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT)
    (killed,) = os.listdir(tmp_path)
    with Staging(str(tmp_path)) as alive:
        assert clean_stopped(str(tmp_path)) == [killed]
        assert os.listdir(tmp_path) == [os.path.basename(alive.path)]
        assert clean_stopped(str(tmp_path)) == []
    assert os.listdir(tmp_path) == []


def test_root_files_and_missing_folders_are_refused_before_anything_is_written(trained,
                                                                                 tmp_path):
    from export.targets import UsageError, plan
    hostname = tmp_path / "hostname"
    hostname.write_bytes(b"box\n")
    res = _export(trained, "--format", "tflite", "--out", str(hostname))
    assert res.returncode == 2
    assert res.stderr == (f"kspec export: --out: {hostname} exists and is not an artifact kspec "
                          f"exported there ({trained}/exports/manifest.json does not list it "
                          "with its present size and sha256); kspec does not overwrite it. "
                          "Name a new path, or move it away first\n")
    # Judged from the paths alone (plan writes nothing), so no test writes to / to see it.
    cases = {
        (("tflite", "keras"), "/"): "--out / is the file-system root",
        (("savedmodel",), "/"): "--out / is the file-system root",
        (("tflite", "keras"), str(hostname)): f"--out {hostname} is a file; with several",
        (("savedmodel",), str(hostname)): f"--out {hostname} is a file; a SavedModel is a "
                                          "folder",
        (("tflite",), str(tmp_path / "no" / "m.tflite")): f"the folder {tmp_path / 'no'} "
                                                          "does not exist",
        (("tflite", "keras"), str(tmp_path / "no" / "d")): f"the folder {tmp_path / 'no'} "
                                                          "does not exist",
    }
    for (formats, out), message in cases.items():
        with pytest.raises(UsageError, match=message.replace("(", r"\(")):
            plan(str(trained), list(formats), "none", out)
    folder = tmp_path / "theirs"
    fill(folder, {"model.keras": b"their model", "manifest.json": b'{"their": "list"}'})
    with pytest.raises(UsageError, match="holds a manifest.json that kspec did not write"):
        plan(str(trained), ["keras", "tflite"], "none", str(folder))
    (folder / "manifest.json").unlink()
    with pytest.raises(UsageError, match=f"{folder}/model.keras exists and is not an artifact"):
        plan(str(trained), ["keras", "tflite"], "none", str(folder))
    assert sorted(os.listdir(tmp_path)) == ["hostname", "theirs"]
    assert hostname.read_bytes() == b"box\n"


def test_a_run_whose_exports_folder_is_a_link_is_refused(tmp_path):
    """A run directory someone else made could point exports/ at a folder of the user's."""
    from export.targets import UsageError, plan
    theirs = tmp_path / "theirs"
    fill(theirs, {"model.keras": b"their model"})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "exports").symlink_to(theirs)
    before = fingerprint(theirs)
    with pytest.raises(UsageError, match=f"{run_dir}/exports is a link; kspec exports into a "
                       "folder of the run's own"):
        plan(str(run_dir), ["keras"], "none", None)
    assert fingerprint(theirs) == before and list(before) == ["model.keras"]


def test_earlier_manifest_entries_are_kept_only_while_they_match(trained, tmp_path):
    """A tampered manifest: an entry whose file changed, one that names a pipe (reading it
    would never end) and one with a relative path are dropped with notes."""
    run_copy = tmp_path / "run"
    shutil.copytree(trained, run_copy, ignore=shutil.ignore_patterns("exports", ".export.lock"))
    res = _export(run_copy, "--format", "keras")
    assert res.returncode == 0, res.stderr
    manifest = run_copy / "exports" / "manifest.json"
    data = json.loads(manifest.read_text())
    (keras,) = data["artifacts"]
    other = tmp_path / "other.bin"
    other.write_bytes(b"changed")
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    data["artifacts"] += [{"path": str(other), "bytes": 7, "sha256": "0" * 64},
                          {"path": str(pipe), "bytes": 0, "sha256": "0" * 64},
                          {"path": "relative.tflite", "bytes": 1, "sha256": "0" * 64}]
    manifest.write_text(json.dumps(data))
    res = _export(run_copy, "--format", "tflite", timeout=300)
    assert res.returncode == 0, res.stderr
    assert (f"note: {manifest}: dropped 1 entry without an absolute path, a size and a "
            "sha256") in res.stderr
    assert (f"note: {other} was dropped from the manifest: differs from the manifest (size "
            "or sha256)") in res.stderr
    assert (f"note: {pipe} was dropped from the manifest: cannot be checked (not a regular "
            "file or folder)") in res.stderr
    paths = [a["path"] for a in json.loads(manifest.read_text())["artifacts"]]
    assert paths == [keras["path"], str(run_copy / "exports" / "model_float32.tflite")]


def test_manifest_paths_are_all_absolute(trained, tmp_path):
    """Relative RUN_DIR and --out: every path the manifest records is absolute."""
    res = _export(os.path.relpath(trained, tmp_path), "--format", "keras", "--out", "m.keras",
                  cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    data = json.loads((trained / "exports" / "manifest.json").read_text())
    assert data["run"] == str(trained)
    assert data["weights"].startswith(f"{trained}/checkpoints/")
    assert str(tmp_path / "m.keras") in [a["path"] for a in data["artifacts"]]
    assert all(os.path.isabs(a["path"]) for a in data["artifacts"])


def test_a_full_disk_during_export_is_reported_as_such(trained, tmp_path):
    """A file-size limit makes the artifact's write fail as a full disk would."""
    out = tmp_path / "model.tflite"
    res = _export(trained, "--format", "tflite", "--out", str(out))
    assert res.returncode == 0, res.stderr
    previous = out.read_bytes()

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(previous) // 2, len(previous) // 2))

    full = _export(trained, "--format", "tflite", "--out", str(out), preexec_fn=small_files)
    assert full.returncode == 1, full.stderr
    assert full.stderr.endswith(f"kspec export: disk full writing {out} (File too large): the "
                                "previous model.tflite there is intact. Free some space in "
                                f"{tmp_path} and run the same command again.\n")
    assert out.read_bytes() == previous and os.listdir(tmp_path) == ["model.tflite"]
    again = _export(trained, "--format", "tflite", "--out", str(out))
    assert again.returncode == 0, again.stderr


def test_a_read_only_run_directory_is_exit_2_naming_it(trained, tmp_path):
    probe = tmp_path / "probe"
    probe.mkdir()
    if not can_mount_read_only(probe):
        pytest.skip("this machine cannot mount a folder read-only for a test")
    before = fingerprint(trained)
    res = run(read_only(trained, [*KSPEC, "export", str(trained), "--format", "keras"]))
    assert res.returncode == 2, res.stderr
    assert res.stderr == (f"kspec export: {trained} is read-only (Read-only file system): kspec "
                          "export takes its lock and writes RUN_DIR/exports/ there. Make it "
                          "writable, or copy the run directory and export the copy\n")
    assert fingerprint(trained) == before
