"""Training writes a run only into a folder kspec can show is its own: the user's folders
survive byte for byte (real `train.py` processes), and kspec's own run directories, even
one whose first training was killed before run.json, resume and restart."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.conftest import ROOT, SPECS, run, train_cmd
from tests.rundir.userfiles import can_mount_read_only, fill, fingerprint, read_only

pytestmark = pytest.mark.slow
LENET = SPECS / "lenet5.yaml"
BRIEF = ["--epochs", "1", "--steps-per-epoch", "5", "--no-xla"]


@pytest.fixture(scope="module")
def brief_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("brief") / "run"
    res = run(train_cmd(LENET, out, data_dir, *BRIEF))
    assert res.returncode == 0, res.stderr
    return out


@pytest.mark.parametrize("restart", [False, True])
def test_a_folder_of_user_files_is_refused_and_left_byte_for_byte(tmp_path, data_dir, restart):
    folder = tmp_path / "P"
    fill(folder)
    before = fingerprint(folder)
    res = run(train_cmd(LENET, folder, data_dir, *BRIEF, *(["--restart"] if restart else [])))
    assert res.returncode == 2, res.stderr
    assert res.stderr.endswith(
        f"kspec train: --out {folder} is a folder that is not a kspec run directory (it holds "
        ".model.keras.ab12cd_3.tmp.keras, .notes.txt.abcd1234.tmp, .savedmodel.x1y2z3w4.tmp/, "
        "checkpoints/, ..., and no .kspec-run or run.json of a kspec run): kspec trains only "
        "into a new or empty folder or a run directory of its own, and leaves other folders "
        "as they are. Name a new folder with --out\n")
    assert fingerprint(folder) == before


def test_an_existing_file_or_the_root_is_refused_before_anything_is_written(tmp_path,
                                                                          data_dir):
    from rundir.ownership import RunDirRefused, claim_run_dir
    hostname = tmp_path / "hostname"
    hostname.write_bytes(b"box\n")
    res = run(train_cmd(LENET, hostname, data_dir, *BRIEF))
    assert res.returncode == 2
    assert res.stderr.endswith(f"kspec train: --out {hostname} is a file, not a folder; --out "
                               "names the run directory: a new or empty folder, or an earlier "
                               "run's\n")
    assert hostname.read_bytes() == b"box\n" and os.listdir(tmp_path) == ["hostname"]
    # The root is judged from its path before any write: no test writes to / to see it.
    for root in ("/", "//", "/.", "/tmp/.."):
        with pytest.raises(RunDirRefused, match=f"--out {root} is the file-system root; name a "
                           "folder of its own for the run"):
            claim_run_dir(root)
    with pytest.raises(RunDirRefused, match="a part of that path is a file"):
        claim_run_dir(str(hostname / "run"))


def test_a_run_killed_before_run_json_resumes_and_restarts(tmp_path, data_dir):
    """Killed between the marker (written first) and run.json: still kspec's own run."""
    out = tmp_path / "early"
    cmd = train_cmd(LENET, out, data_dir, *BRIEF)
    for _ in range(5):  # the window is a tenth of a second: stop the process inside it
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        while not (out / ".kspec-run").exists():
            assert proc.poll() is None
            time.sleep(0.005)
        proc.send_signal(signal.SIGSTOP)
        early = not (out / "run.json").exists()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if early:
            break
        shutil.rmtree(out)
    assert early and not (out / "run.json").exists()
    for extra in ([], ["--restart"]):
        res = run(cmd + extra)
        assert res.returncode == 0, res.stderr
    assert (out / "run.json").is_file() and (out / "model.keras").is_file()


def test_a_run_made_before_the_marker_resumes_and_is_marked(tmp_path, data_dir, brief_run):
    out = tmp_path / "run"
    shutil.copytree(brief_run, out)
    (out / ".kspec-run").unlink()  # as a run trained by a kspec without the marker
    cmd = [a for a in train_cmd(LENET, out, data_dir, *BRIEF) if a != "--quiet"]
    res = run(cmd[:cmd.index("--epochs") + 1] + ["2"] + cmd[cmd.index("--epochs") + 2:])
    assert res.returncode == 0, res.stderr
    assert "resumed at step 5" in res.stdout
    assert (out / ".kspec-run").is_file()


def test_a_read_only_run_directory_is_exit_2_naming_it(tmp_path, data_dir, brief_run):
    probe = tmp_path / "probe"
    probe.mkdir()
    if not can_mount_read_only(probe):
        pytest.skip("this machine cannot mount a folder read-only for a test")
    out = tmp_path / "run"
    shutil.copytree(brief_run, out)
    before = fingerprint(out)
    res = run(read_only(out, train_cmd(LENET, out, data_dir, *BRIEF[2:], "--epochs", "2")))
    assert res.returncode == 2, res.stderr
    assert res.stderr.endswith(f"kspec train: {out} is read-only (Read-only file system): "
                               "training writes its checkpoints, metrics and log there. Make it "
                               "writable, or copy the run and train the copy with --out COPY\n")
    assert fingerprint(out) == before


@pytest.mark.parametrize("name", [".lock", ".export.lock"])
def test_a_lock_file_that_is_a_link_is_refused_and_its_target_untouched(tmp_path, name):
    """A run directory someone else made, whose lock points at a file of the user's."""
    from rundir.lock import RunLock
    from rundir.ownership import RunDirRefused
    victim = tmp_path / "precious.txt"
    victim.write_bytes(b"the user's text")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / name).symlink_to(victim)
    with pytest.raises(RunDirRefused, match=f"{run_dir / name} is a link, not kspec's lock "
                       r"file; remove it \(kspec makes a new one\)"):
        RunLock(str(run_dir), name).acquire()
    assert victim.read_bytes() == b"the user's text"


def test_replacing_a_folder_atomically_leaves_a_users_old_folder(tmp_path):
    """The folder being replaced is moved aside into a fresh folder of the call's own,
    never to `NAME.old`, which may be someone's."""
    from rundir.atomic import atomic_path
    fill(tmp_path, {"sm/saved_model.pb": b"previous", "sm.old/keep.txt": b"the user's"})
    with atomic_path(str(tmp_path / "sm")) as tmp:
        os.makedirs(tmp)
        with open(os.path.join(tmp, "saved_model.pb"), "wb") as fh:
            fh.write(b"new")
    assert (tmp_path / "sm" / "saved_model.pb").read_bytes() == b"new"
    assert (tmp_path / "sm.old" / "keep.txt").read_bytes() == b"the user's"
    assert sorted(os.listdir(tmp_path)) == ["sm", "sm.old"]
