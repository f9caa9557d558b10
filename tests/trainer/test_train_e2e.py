"""End-to-end training in real subprocesses: resume after SIGKILL, SIGTERM, NaN, determinism."""
import json
import os
import re
import signal
import subprocess
import time

import numpy as np
import pytest

from tests.conftest import ROOT, SPECS, final_weights, run, train_cmd

pytestmark = pytest.mark.slow
LENET = SPECS / "lenet5.yaml"
DET = ["--deterministic", "--seed", "3", "--epochs", "2", "--set", "train.checkpoint_every=10"]


def wait_for(path, proc, timeout=300):
    start = time.time()
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.time() - start < timeout, f"{path} never appeared"
        time.sleep(0.02)


def test_kill_after_first_checkpoint_then_resume_matches_uninterrupted(tmp_path, data_dir):
    straight = run(train_cmd(LENET, tmp_path / "a", data_dir, *DET))
    assert straight.returncode == 0, straight.stderr
    cmd = [a for a in train_cmd(LENET, tmp_path / "b", data_dir, *DET) if a != "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(tmp_path / "b" / "checkpoints" / "last" / "checkpoint", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "b" / "model.keras").exists(), "killed too late to test a resume"
    resumed = run(cmd)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed at step" in resumed.stdout
    for a, b in zip(final_weights(tmp_path / "a"), final_weights(tmp_path / "b")):
        np.testing.assert_array_equal(a, b)
    rows = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]


def test_sigterm_saves_and_exits_75_then_resumes(tmp_path, data_dir):
    cmd = train_cmd(LENET, tmp_path / "r", data_dir, "--epochs", "3",
                    "--set", "train.checkpoint_every=10")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_for(tmp_path / "r" / "checkpoints" / "last" / "checkpoint", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 75, err
    assert "SIGTERM: saved step" in err
    again = run(cmd)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "r" / "model.keras").exists()


def test_nan_loss_stops_naming_the_step_and_keeps_checkpoints(tmp_path, data_dir):
    out = tmp_path / "n"
    first = run(train_cmd(LENET, out, data_dir, "--epochs", "1"))
    assert first.returncode == 0, first.stderr
    before = sorted(os.listdir(out / "checkpoints" / "last"))
    # A finite spec (infinity itself is a spec error) whose loss overflows float32.
    bad = run(train_cmd(LENET, out, data_dir, "--epochs", "2", "--set",
                        "train.weight_decay=1e38"))
    assert bad.returncode == 1
    assert "training stopped" in bad.stderr and "at step 5" in bad.stderr, bad.stderr
    assert sorted(os.listdir(out / "checkpoints" / "last")) == before


def test_a_failed_xla_compile_falls_back_and_matches_a_run_without_xla(tmp_path, data_dir):
    """Under --deterministic XLA has no max-pool gradient: the compile fails on the first
    step, whatever it touched is put back, and the run equals one without XLA."""
    outs = {}
    for xla in ("on", "off"):
        cmd = [a for a in train_cmd(LENET, tmp_path / xla, data_dir, *DET, "--xla", xla,
                                    "--steps-per-epoch", "6") if a != "--quiet"]
        outs[xla] = run(cmd)
        assert outs[xla].returncode == 0, outs[xla].stderr
    assert "XLA compilation failed" in outs["on"].stdout and "XLA: off" in outs["on"].stdout
    assert "XLA: off (--xla off)" in outs["off"].stdout
    info = json.loads((tmp_path / "on" / "run.json").read_text())
    assert info["xla"] is False and info["xla_choice"].startswith("--xla on, then off: the "
                                                                  "compile failed")
    for a, b in zip(final_weights(tmp_path / "on"), final_weights(tmp_path / "off")):
        np.testing.assert_array_equal(a, b)


def test_two_deterministic_runs_give_identical_weights(tmp_path, data_dir):
    extra = ["--deterministic", "--seed", "7", "--epochs", "1", "--set",
             "train.augment={hflip: true, crop: 0.1}"]
    for name in ("x", "y"):
        res = run(train_cmd(LENET, tmp_path / name, data_dir, *extra))
        assert res.returncode == 0, res.stderr
    for a, b in zip(final_weights(tmp_path / "x"), final_weights(tmp_path / "y")):
        np.testing.assert_array_equal(a, b)


def test_lenet_learns_shapes_and_writes_the_run_directory(tmp_path, data_dir):
    # The measure: the default `shapes` set, 3 epochs.
    res = run(train_cmd(LENET, tmp_path / "l", data_dir, "--epochs", "3", data="shapes"))
    assert res.returncode == 0, res.stderr
    d = tmp_path / "l"
    for name in ("spec.yaml", "run.json", "metrics.jsonl", "curves.png", "model.keras", "logs"):
        assert (d / name).exists(), name
    rows = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["val_accuracy"] >= 0.9, rows
    info = json.loads((d / "run.json").read_text())
    # --xla auto on a CPU: a run of a few seconds does not try XLA (its compile would not pay).
    assert info["xla"] is False
    assert re.fullmatch(r"auto: CPU, off: about \d+ s of training left, too little for an XLA "
                        r"compile to pay", info["xla_choice"]), info["xla_choice"]
    assert info["replicas"] == 1 and len(info["spec_sha256"]) == 64
    assert "kspec evaluate" in res.stdout
    ev = run(["kspec", "evaluate", str(d), "--json"])
    assert ev.returncode == 0 and json.loads(ev.stdout.splitlines()[-1])["accuracy"] >= 0.9
    import keras
    model = keras.saving.load_model(d / "model.keras", safe_mode=True)
    assert model.count_params() == 61_706 - 6 * 85  # 4 classes from shapes, not the paper's 10


def test_mlp_learns_xor(tmp_path, data_dir):
    """The perceptron's limit and the MLP's answer: XOR with one hidden layer (sigmoid head)."""
    res = run(train_cmd(SPECS / "mlp_xor.yaml", tmp_path / "xor", data_dir, data="xor"))
    assert res.returncode == 0, res.stderr
    np.save(tmp_path / "x.npy", np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32))
    pred = run(["kspec", "predict", str(tmp_path / "xor"), str(tmp_path / "x.npy")])
    assert pred.returncode == 0, pred.stderr
    answers = [json.loads(line)["positive"] for line in pred.stdout.splitlines()]
    assert answers == [False, True, True, False]


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_and_checkpoints_the_loss_scale(tmp_path, data_dir, precision):
    import tensorflow as tf
    out = tmp_path / precision
    res = run(train_cmd(SPECS / "small_cnn.yaml", out, data_dir, "--epochs", "1",
                        "--steps-per-epoch", "10", "--precision", precision))
    assert res.returncode == 0, res.stderr
    assert json.loads((out / "run.json").read_text())["precision"] == precision
    names = [n for n, _ in tf.train.list_variables(
        tf.train.latest_checkpoint(str(out / "checkpoints" / "last")))]
    has_scale = any("dynamic_scale" in n for n in names)
    assert has_scale == (precision == "mixed_float16")  # float16 needs loss scaling
    import keras
    model = keras.saving.load_model(out / "model.keras", safe_mode=True)
    assert model.output.dtype == "float32"  # outputs stay float32
