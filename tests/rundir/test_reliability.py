"""Faults a real machine produces, tried on real run directories with real processes and
signals: each ends in the exit code and message docs/reliability.md gives, and where the
run can go on, in the same weights as a run that met no fault."""
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import ROOT, SPECS, final_weights, run, train_cmd

pytestmark = pytest.mark.slow
LENET = SPECS / "lenet5.yaml"
# 50 steps an epoch on the small set; checkpoints at 10, 20, ... (the last 3 kept).
DET = ["--deterministic", "--seed", "3", "--no-xla", "--set", "train.checkpoint_every=10"]


def _train(out, data_dir, *extra, epochs=1, quiet=False, **kw):
    """A run with its progress lines shown, unless `quiet` (notes show either way)."""
    cmd = train_cmd(LENET, out, data_dir, *DET, "--epochs", str(epochs), *extra)
    return run([a for a in cmd if quiet or a != "--quiet"], **kw)


@pytest.fixture(scope="module")
def straight(tmp_path_factory, data_dir):
    """Two epochs that met no fault: the weights and rows every recovery must reproduce."""
    out = tmp_path_factory.mktemp("straight")
    res = _train(out, data_dir, epochs=2)
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def trained_one_epoch(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("one") / "run"
    res = _train(out, data_dir)
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture
def one_epoch(tmp_path, trained_one_epoch):
    """A fresh copy of a one-epoch run for each fault (checkpoints point by relative path)."""
    out = tmp_path / "run"
    shutil.copytree(trained_one_epoch, out)
    return out


def _rows(run_dir):
    keep = ("epoch", "step", "loss", "val_loss", "val_accuracy")
    return [{k: r[k] for k in keep} for r in
            map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())]


def _same_as_straight(run_dir, straight):
    for a, b in zip(final_weights(straight), final_weights(run_dir)):
        np.testing.assert_array_equal(a, b)
    assert _rows(run_dir) == _rows(straight)


def _last(run_dir):
    return run_dir / "checkpoints" / "last"


def test_kill_9_at_random_moments_then_resume_equals_a_straight_run(tmp_path, data_dir,
                                                                     straight):
    out = tmp_path / "k"
    cmd = train_cmd(LENET, out, data_dir, *DET, "--epochs", "2")
    rng = random.Random(11)
    kills = 0
    while kills < 10:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 9.0))
        if proc.poll() is not None:  # finished before the kill: start over to kill again
            shutil.rmtree(out)
            continue
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    res = run(cmd)
    assert res.returncode == 0, res.stderr
    _same_as_straight(out, straight)


def test_garbled_pointer_resumes_from_the_newest_checkpoint(one_epoch, data_dir, straight):
    (_last(one_epoch) / "checkpoint").write_bytes(b"\x00garbage\xff")
    res = _train(one_epoch, data_dir, epochs=2)
    assert res.returncode == 0, res.stderr
    assert "resumed at step 50" in res.stdout
    _same_as_straight(one_epoch, straight)


def test_deleted_latest_checkpoint_resumes_from_the_one_before(one_epoch, data_dir, straight):
    for name in os.listdir(_last(one_epoch)):
        if name.startswith("ckpt-50."):
            os.unlink(_last(one_epoch) / name)
    res = _train(one_epoch, data_dir, epochs=2, quiet=True)
    assert res.returncode == 0, res.stderr
    # --quiet hides progress, never the warning of lost work; the run's log keeps it too.
    note = "note: ckpt-50 (named by the pointer file) is missing; resuming from ckpt-40"
    assert note in res.stdout and "resumed at step 40" not in res.stdout
    assert f"WARNING:kspec:{note}\n" in (one_epoch / "logs" / "kspec.log").read_text()
    _same_as_straight(one_epoch, straight)


@pytest.mark.parametrize("part", ["data", "index"])
def test_truncated_latest_checkpoint_resumes_from_the_one_before(one_epoch, data_dir, straight,
                                                                 part):
    (victim,) = [p for p in _last(one_epoch).iterdir()
                 if p.name.startswith("ckpt-50.") and (part in p.name)]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    res = _train(one_epoch, data_dir, epochs=2)
    assert res.returncode == 0, res.stderr
    assert ("note: ckpt-50 is unreadable (truncated or corrupt); resuming from ckpt-40"
            in res.stdout)
    _same_as_straight(one_epoch, straight)


def test_no_readable_checkpoint_is_exit_2_not_a_fresh_start(one_epoch, data_dir):
    for p in _last(one_epoch).iterdir():
        if ".data-" in p.name:
            p.write_bytes(b"")
    before = sorted(os.listdir(_last(one_epoch)))
    res = _train(one_epoch, data_dir, epochs=2)
    assert res.returncode == 2
    assert res.stderr.startswith(f"kspec train: {_last(one_epoch)} holds checkpoints but none "
                                 "can be read (ckpt-50 is unreadable")
    assert "pass --restart to start over there, or another --out" in res.stderr
    assert sorted(os.listdir(_last(one_epoch))) == before
    again = _train(one_epoch, data_dir, "--restart", epochs=1)
    assert again.returncode == 0, again.stderr
    assert "--restart: starting over in" in again.stdout


def test_two_trainers_on_one_run_directory(tmp_path, data_dir):
    out = tmp_path / "both"
    cmd = train_cmd(LENET, out, data_dir, *DET, "--epochs", "2")
    first = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.time() + 120
    while not (out / ".lock").exists() or not (out / ".lock").read_text().strip():
        assert time.time() < deadline and first.poll() is None
        time.sleep(0.05)
    # Held still while the second starts, so the first cannot finish before it meets it.
    first.send_signal(signal.SIGSTOP)
    try:
        second = run(cmd)
    finally:
        first.send_signal(signal.SIGCONT)
    first_out, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err
    assert second.returncode == 2
    assert second.stderr == (f"kspec train: {out} is in use by another trainer (pid "
                             f"{first.pid}); wait for it to finish, or train into another "
                             "--out\n")
    assert [r["epoch"] for r in _rows(out)] == [1, 2]


def test_nan_at_a_known_step_stops_there_and_saves_nothing(one_epoch, data_dir):
    before = sorted(os.listdir(_last(one_epoch)))
    # A finite spec (infinity itself is a spec error) whose loss overflows float32.
    bad = _train(one_epoch, data_dir, "--set", "train.weight_decay=1e38", epochs=2)
    assert bad.returncode == 1
    assert bad.stderr.startswith("kspec train: loss is inf at step 51 (epoch 2): training "
                                 "stopped. Nothing was saved after the fault; the last "
                                 f"checkpoint is {_last(one_epoch)}/ckpt-50.")
    assert sorted(os.listdir(_last(one_epoch))) == before
    assert [r["epoch"] for r in _rows(one_epoch)] == [1]


@pytest.mark.parametrize("flag, recorded, now", [
    (["--seed", "4"], "3", "4"),
    (["--batch-size", "16"], "32", "16"),
    (["--data", "shapes/single:train=800,validation=160,test=160"],
     "'shapes/single:train=1600,validation=160,test=160'",
     "'shapes/single:train=800,validation=160,test=160'"),
])
def test_resume_refuses_a_different_run(one_epoch, data_dir, flag, recorded, now):
    args = [a for a in train_cmd(LENET, one_epoch, data_dir, *DET, "--epochs", "2")]
    if flag[0] == "--seed":
        args[args.index("--seed") + 1] = flag[1]
    elif flag[0] == "--data":
        args[args.index("--data") + 1] = flag[1]
    else:
        args += flag
    res = run(args)
    field = {"--seed": "seed", "--batch-size": "global_batch", "--data": "dataset"}[flag[0]]
    assert res.returncode == 2
    assert res.stderr.endswith(f"kspec train: {one_epoch} holds a run with a different {field}: "
                               f"recorded {recorded}, now {now}; pass --restart to start over "
                               "there, or another --out\n")


def test_a_corrupt_run_json_is_exit_2_everywhere(one_epoch, data_dir):
    (one_epoch / "run.json").write_text('{"seed": 3, "glob')
    res = _train(one_epoch, data_dir, epochs=2)
    assert res.returncode == 2
    assert res.stderr.startswith(f"kspec train: {one_epoch}/run.json is unreadable")
    ev = run(["kspec", "evaluate", str(one_epoch)])
    assert ev.returncode == 2 and f"{one_epoch}/run.json is unreadable" in ev.stderr


def test_an_edited_spec_is_refused_by_every_command_that_loads_the_run(one_epoch):
    spec = one_epoch / "spec.yaml"
    spec.write_text(spec.read_text().replace("activation: tanh", "activation: relu", 1))
    for command in (["evaluate"], ["export", "--format", "keras"]):
        res = run(["kspec", command[0], str(one_epoch), *command[1:]])
        assert res.returncode == 2, res.stderr
        assert (f"{spec} was edited after training (its sha256 differs from the one run.json "
                "recorded)") in res.stderr


def test_a_torn_metrics_line_is_repaired_on_resume(one_epoch, data_dir, straight):
    with open(one_epoch / "metrics.jsonl", "a") as fh:
        fh.write('{"epoch": 2, "step": 1')  # a kill or a full disk in the middle of a write
    ev = run(["kspec", "evaluate", str(one_epoch), "--json"])
    assert ev.returncode == 0, ev.stderr
    res = _train(one_epoch, data_dir, epochs=2)
    assert res.returncode == 0, res.stderr
    assert "note: dropped" not in res.stdout
    _same_as_straight(one_epoch, straight)


def test_a_full_disk_is_reported_as_such_and_the_run_resumes(one_epoch, data_dir, straight):
    """A file-size limit makes every checkpoint write fail as a full disk would."""
    before = sorted(os.listdir(_last(one_epoch)))
    size = sum(p.stat().st_size for p in _last(one_epoch).iterdir() if "ckpt-50" in p.name)

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, size // 2))

    full = _train(one_epoch, data_dir, epochs=2, preexec_fn=small_files)
    assert full.returncode == 1, full.stderr
    assert full.stderr.startswith(f"kspec train: disk full writing a checkpoint to "
                                  f"{_last(one_epoch)} (")
    assert (f"it needs about {size / 1e6:,.1f} MB. The previous checkpoint "
            f"{_last(one_epoch)}/ckpt-50 is intact") in full.stderr
    assert sorted(os.listdir(_last(one_epoch))) == before
    res = _train(one_epoch, data_dir, epochs=2)
    assert res.returncode == 0, res.stderr
    _same_as_straight(one_epoch, straight)


@pytest.mark.parametrize("after", [0.8, 1.5, 2.5])  # importing TensorFlow, loading data
def test_sigterm_during_start_up_exits_75_with_nothing_half_written(tmp_path, data_dir, after):
    out = tmp_path / "early"
    proc = subprocess.Popen(train_cmd(LENET, out, data_dir, *DET), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(after)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 75, err
    assert "kspec train: SIGTERM outside the training loop; nothing was half-written" in err
    leftovers = [p for p in out.rglob("*") if ".tmp" in p.name] if out.exists() else []
    assert leftovers == []


def test_the_default_run_directory_stays_under_runs(tmp_path, data_dir):
    spec = tmp_path / "dots.yaml"
    spec.write_text(LENET.read_text().replace("name: lenet5", 'name: ".."'))
    res = run([sys.executable, str(ROOT / "train.py"), str(spec), "--data",
               "shapes/single:train=64,validation=32,test=32", "--data-dir", data_dir,
               "--epochs", "1", "--quiet", "--no-xla"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(tmp_path)) == ["dots.yaml", "runs"]
    assert os.listdir(tmp_path / "runs") == ["run"]
