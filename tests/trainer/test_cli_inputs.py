"""Bad command-line input to `kspec train`, `predict` and friends: exit 2 and a message that
says what to change, never a traceback; a valid but unusual input works."""
import json
import os
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, SPECS, run

LENET = str(SPECS / "lenet5.yaml")


def _train(*args, env=None, cwd=ROOT):
    return run([sys.executable, str(ROOT / "kspec_cli.py"), "train", *args], env=env, cwd=cwd)


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "argument --seed: invalid integer from 0 to 4294967295 value: '-1'"),
    (["--seed", "4294967296"],
     "argument --seed: invalid integer from 0 to 4294967295 value: '4294967296'"),
    (["--logical-cpus", "-2"], "argument --logical-cpus: invalid integer from 0 to 64 value: '-2'"),
    (["--logical-cpus", "100000"],
     "argument --logical-cpus: invalid integer from 0 to 64 value: '100000'"),
    (["--plugin", ""], "argument --plugin: needs a module name (my_layers) or a Python file"),
    (["--epochs", "0"], "--epochs: train.epochs: expected a positive integer, received int 0"),
    (["--init", "weights.txt"], "--init: init.from: cannot read weights from '"),
    (["--data", "shapes/bogus"], "unknown shapes config 'bogus'; expected single or multi"),
    (["--data", "shapes/single:image_size=-5"],
     "shapes option image_size must be between 16 and 1,024, received -5"),
    (["--data", "shapes/single:train=0"], "shapes option train must be between 1 and"),
    (["--data", "./no/such/folder"], "--data ./no/such/folder: no such folder"),
    # A version as TFDS writes it on disk is valid: the answer is how to prepare it.
    (["--data", "cifar10/3.0.2"], "tfds build cifar10:3.0.2 --data_dir DIR"),
    (["--init", ""], "argument --init: invalid weights source value: ''"),
    (["--xla", "maybe"], "argument --xla: invalid choice: 'maybe' (choose from 'auto', 'on', 'off')"),
])
def test_bad_training_options_exit_2_with_a_message(tmp_path, args, message):
    res = _train(LENET, "--out", str(tmp_path / "run"), "--data-dir", str(tmp_path / "tfds"),
                 *(["--data", "shapes"] if "--data" not in args else []), *args)
    assert res.returncode == 2, res.stderr[-2000:]
    assert message in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("tf_config", [
    "[1, 2]",
    '{"cluster": {"worker": [5]}, "task": {"type": "worker", "index": 0}}',
    '{"cluster": {"worker": "localhost:1"}, "task": {"type": "worker", "index": 0}}',
    '{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 3}}',
    "{not json",
])
def test_a_malformed_tf_config_is_exit_2(tmp_path, tf_config):
    res = _train(LENET, "--out", str(tmp_path / "run"),
                 env={**os.environ, "TF_CONFIG": tf_config})
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr.startswith("kspec train: TF_CONFIG") and "Traceback" not in res.stderr


def test_a_model_too_big_for_memory_is_refused_before_allocation(tmp_path):
    spec = tmp_path / "huge.yaml"
    spec.write_text("kspec: 1\nname: huge\ninput: {shape: [32, 32, 3]}\nlayers:\n"
                    "  - conv: {filters: 1000000000, kernel: 3}\n  - globalavgpool\n"
                    "head: {task: classification, classes: 4}\n")
    summary = run(["kspec", "summary", str(spec)])
    assert "training state    512000.0 MB (weights, gradients and adam slots" in summary.stdout
    res = _train(str(spec), "--data", "xor", "--out", str(tmp_path / "run"))
    assert res.returncode == 2
    assert res.stderr.startswith("kspec train: huge needs 115,840.0 GB to train at batch 32: "
                                 "512.0 GB for its weights, gradients and optimizer state "
                                 "(128.0 GB of weights) and 115,328.0 GB of activations, but this "
                                 "machine has ")
    assert not (tmp_path / "run").exists()


def test_activations_of_a_huge_input_are_counted_before_allocation(tmp_path):
    """Few weights, but 30000x30000 images: the batch's activations cannot fit."""
    spec = tmp_path / "wide.yaml"
    spec.write_text("name: wide\ninput: {shape: [30000, 30000, 3]}\nlayers:\n"
                    "  - conv: {filters: 8, kernel: 3}\n  - globalavgpool\n"
                    "head: {task: classification, classes: 4}\ntrain: {batch_size: 2}\n")
    summary = run(["kspec", "summary", str(spec)])
    assert "activations       28796.2 MB per image (float32, forward)" in summary.stdout
    assert "training          57592.3 MB at batch 2" in summary.stdout
    res = _train(str(spec), "--data", "xor", "--out", str(tmp_path / "run"))
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr.startswith("kspec train: wide needs 57.6 GB to train at batch 2: 0.0 GB "
                                 "for its weights, gradients and optimizer state (0.0 GB of "
                                 "weights) and 57.6 GB of activations, but this machine has ")
    assert not (tmp_path / "run").exists()


def test_mixed_float16_on_a_cpu_says_so(tmp_path):
    spec = tmp_path / "mlp.yaml"
    spec.write_text("name: mlp\ninput: {shape: [2]}\nlayers: [dense: {units: 4, activation: "
                    "tanh}]\nhead: {task: classification, classes: 1, activation: sigmoid, "
                    "loss: binary_cross_entropy}\ntrain: {epochs: 1, batch_size: 4}\n")
    res = _train(str(spec), "--data", "xor", "--out", str(tmp_path / "run"), "--no-xla",
                 "--precision", "mixed_float16")
    assert res.returncode == 0, res.stderr
    assert ("note: mixed_float16 on a CPU is far slower than float32 (CPUs have no fast "
            "float16 math); use it on GPUs") in res.stdout


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("xor")
    spec = out / "mlp.yaml"
    spec.write_text("name: mlp\ninput: {shape: [2]}\nlayers: [dense: {units: 4, activation: "
                    "tanh}]\nhead: {task: classification, classes: 1, activation: sigmoid, "
                    "loss: binary_cross_entropy}\ntrain: {epochs: 1, batch_size: 4}\n")
    res = _train(str(spec), "--data", "xor", "--out", str(out / "run"), "--no-xla", "--quiet")
    assert res.returncode == 0, res.stderr
    return out / "run"


@pytest.mark.parametrize("content, message", [
    (b"", "not a NumPy .npy file"),
    (b"garbage", "not a NumPy .npy file"),
    ("empty", "the array holds no samples (shape (0, 2))"),
    ("objects", "a .npy file that cannot be read as numbers"),
])
def test_predict_with_a_bad_npy_is_exit_2(xor_run, tmp_path, content, message):
    path = tmp_path / "x.npy"
    if content == "empty":
        np.save(path, np.zeros((0, 2), np.float32))
    elif content == "objects":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    else:
        path.write_bytes(content)
    res = run(["kspec", "predict", str(xor_run), str(path)])
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert message in res.stderr


def test_predict_with_a_corrupt_image_is_exit_2(tmp_path):
    """Images are read before the model is used: a corrupt one is named, exit 2."""
    from trainer.commands import read_inputs
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(ValueError, match=f"{bad}: not a readable image"):
        read_inputs([str(bad)], {"shape": [32, 32, 1]})


def test_evaluate_prints_a_table_or_json(xor_run):
    table = run(["kspec", "evaluate", str(xor_run)])
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[1].split()[0] == "loss"
    as_json = run(["kspec", "evaluate", str(xor_run), "--json"])
    assert json.loads(as_json.stdout)["split"] == "test"
    bad = run(["kspec", "evaluate", str(xor_run), "--split", "nope"])
    assert bad.returncode == 2 and "has no split 'nope'" in bad.stderr
