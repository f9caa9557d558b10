"""A run directory someone else made is data: it never runs code, never makes a command
read without bound, and every field a command acts on is checked first (exit 2).

Most cases call the `kspec` command in-process (`--verbose` keeps pytest's streams); the
security cases check a marker file that the hostile plugin would write if imported.
"""
import json
import os
import shutil
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kspec_cli
from rundir.layout import RunJsonError, check_entries, read_metrics, read_run_json
from tests.conftest import ROOT, run

SPEC = ("name: tiny\ninput: {shape: [2]}\nlayers: [dense: {units: 4, activation: tanh}]\n"
        "head: {task: classification, classes: 1, activation: sigmoid, loss: "
        "binary_cross_entropy}\ntrain: {epochs: 1, batch_size: 4}\n")
EVIL = "import pathlib\npathlib.Path({marker!r}).write_text('imported')\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    (folder / "tiny.yaml").write_text(SPEC)
    res = run([sys.executable, str(ROOT / "train.py"), str(folder / "tiny.yaml"), "--data",
               "xor", "--out", str(folder / "run"), "--quiet", "--no-xla"])
    assert res.returncode == 0, res.stderr
    return folder / "run"


@pytest.fixture
def handed(tmp_path, trained):
    """A copy of a real run, as a colleague would hand it over."""
    out = tmp_path / "handed"
    shutil.copytree(trained, out)
    return out


def _edit_run_json(run_dir, **fields):
    info = json.loads((run_dir / "run.json").read_text())
    info.update(fields)
    for name, value in fields.items():
        if value is _DROP:
            del info[name]
    (run_dir / "run.json").write_text(json.dumps(info))


_DROP = object()


def _kspec(capsys, *argv):
    code = kspec_cli.main([*argv, "--verbose"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def evil_plugin(tmp_path, handed):
    """run.json names a plugin module that writes a marker when imported."""
    marker = tmp_path / "marker"
    code_dir = tmp_path / "their_code"
    code_dir.mkdir()
    (code_dir / "evil_layers.py").write_text(EVIL.format(marker=str(marker)))
    _edit_run_json(handed, plugins=[{"module": "evil_layers", "root": str(code_dir)}])
    return handed, marker


@pytest.mark.parametrize("argv", [["evaluate", "{run}"], ["predict", "{run}", "{npy}"],
                                  ["embed", "{run}", "--layer", "body", "{npy}"],
                                  ["export", "{run}", "--format", "keras"]])
def test_a_recorded_plugin_is_never_imported(evil_plugin, tmp_path, capsys, argv):
    run_dir, marker = evil_plugin
    np.save(tmp_path / "x.npy", np.zeros((1, 2), np.float32))
    argv = [a.format(run=run_dir, npy=tmp_path / "x.npy") for a in argv]
    code, out, err = _kspec(capsys, *argv)
    assert code == 2, err
    assert ("was trained with plugin code that kspec does not import on a run directory's "
            f"word: if you trust it, pass --plugin evil_layers (it was imported from "
            f"{tmp_path / 'their_code'})") in err
    assert not marker.exists()
    assert "evil_layers" not in sys.modules


@pytest.mark.parametrize("how", ["--init", "spec"])
def test_init_from_a_run_directory_never_imports_its_plugins(evil_plugin, tmp_path, capsys,
                                                             how):
    run_dir, marker = evil_plugin
    spec = tmp_path / "start.yaml"
    spec.write_text(SPEC + (f"init: {run_dir}\n" if how == "spec" else ""))
    extra = ["--init", str(run_dir)] if how == "--init" else []
    code, out, err = _kspec(capsys, "train", str(spec), "--data", "xor", "--out",
                            str(tmp_path / "new"), "--no-xla", *extra)
    assert code == 2, err
    assert "pass --plugin evil_layers" in err
    assert not marker.exists()


@pytest.mark.parametrize("field, value, said", [
    ("class_names", 5, "class_names: expected a list of strings, received int 5"),
    ("class_names", ["a", 3], "class_names: expected a list of strings, received list"),
    ("dataset", 5, "dataset: expected str, received int 5"),
    ("seed", True, "seed: expected int, received bool True"),
    ("data_dir", ["x"], "data_dir: expected str or null, received list"),
    ("spec_sha256", "abc", "spec_sha256: expected a sha256 (64 hex digits), received 'abc'"),
])
def test_run_json_fields_of_the_wrong_type_are_exit_2(handed, capsys, field, value, said):
    _edit_run_json(handed, **{field: value})
    code, out, err = _kspec(capsys, "evaluate", str(handed))
    assert code == 2
    assert f"{handed}/run.json: {said}" in err and "Traceback" not in err


def test_a_removed_spec_hash_is_required_not_skipped(handed, capsys):
    _edit_run_json(handed, spec_sha256=_DROP)
    (handed / "spec.yaml").write_text(SPEC.replace("units: 4", "units: 5"))
    code, out, err = _kspec(capsys, "evaluate", str(handed))
    assert code == 2
    assert (f"{handed}/run.json records no spec_sha256; the run's spec.yaml cannot be checked "
            "against its weights") in err


@pytest.mark.parametrize("entry, make, said", [
    (".lock", os.mkdir, "/.lock is a folder; kspec keeps a file there"),
    ("logs", lambda p: open(p, "w").close(), "/logs is not a regular file; kspec keeps a "
     "folder there"),
    ("run.json", os.mkdir, "/run.json is a folder; kspec keeps a file there"),
])
def test_entries_of_the_wrong_kind_are_exit_2(handed, tmp_path, capsys, entry, make, said):
    path = handed / entry
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    make(str(path))
    code, out, err = _kspec(capsys, "evaluate", str(handed))
    assert code == 2 and said in err, err
    spec = tmp_path / "t.yaml"
    spec.write_text(SPEC)
    code, out, err = _kspec(capsys, "train", str(spec), "--data", "xor", "--out",
                            str(handed), "--no-xla")
    assert code == 2 and said in err, err


@pytest.mark.parametrize("entry", ["metrics.jsonl", "checkpoints", "logs"])
def test_an_entry_that_is_a_link_is_refused_and_its_target_untouched(handed, tmp_path,
                                                                     capsys, entry):
    """A run directory handed over with `metrics.jsonl` pointing at a file of the user's:
    training would append to that file. Refused before anything is written."""
    target = tmp_path / "users_file"
    target.mkdir() if entry != "metrics.jsonl" else target.write_text("my notes\n")
    path = handed / entry
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    os.symlink(target, path)
    spec = tmp_path / "t.yaml"
    spec.write_text(SPEC)
    code, out, err = _kspec(capsys, "train", str(spec), "--data", "xor", "--out",
                            str(handed), "--no-xla", "--epochs", "2")
    assert code == 2
    assert f"{path} is a link; a run directory of kspec's holds its own" in err
    if entry == "metrics.jsonl":
        assert target.read_text() == "my notes\n"
    else:
        assert list(target.iterdir()) == []


def test_a_huge_sparse_metrics_file_is_refused_unread(tmp_path):
    with open(tmp_path / "metrics.jsonl", "wb") as fh:
        fh.truncate(3 << 30)  # 3 GB that hold nothing: reading it whole would allocate 3 GB
    with pytest.raises(RunJsonError, match=r"the metrics file is 3072.0 MB, over the 256.0 MB"):
        read_metrics(str(tmp_path))


def test_metrics_rows_that_are_not_ours_are_dropped_with_a_note(tmp_path):
    (tmp_path / "metrics.jsonl").write_text(
        '{"epoch": 1, "loss": 0.5}\n{"loss": 2}\n{"epoch": "2"}\n[1]\n{"epoch": 1e999}\n'
        '{"epoch": 2, "loss": 0.4}\n{"epoch": 3, "val_map": NaN}\n{"epo')
    rows, notes = read_metrics(str(tmp_path))
    assert [r["epoch"] for r in rows] == [1, 2, 3]  # NaN, as Python's json writes it, stays
    assert [n.split(": ", 1)[1] for n in notes] == [
        "a line that is not a metrics row was dropped (its epoch is None, not a whole number "
        ">= 1)",
        "a line that is not a metrics row was dropped (its epoch is '2', not a whole number "
        ">= 1)",
        "a line that is not a metrics row was dropped (not an object)",
        "a line that is not a metrics row was dropped (torn or garbled)",
        "a line that is not a metrics row was dropped (torn or garbled)"]
    assert notes[0].startswith(f"{tmp_path}/metrics.jsonl:2: ")


def test_a_huge_checkpoint_pointer_is_not_read(tmp_path):
    from rundir.checkpoints import pointed_at
    with open(tmp_path / "checkpoint", "wb") as fh:
        fh.truncate(2 << 30)
    assert pointed_at(str(tmp_path)) is None
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "ckpt-7"\n')
    assert pointed_at(str(tmp_path)) == "ckpt-7"


def test_a_checkpoint_index_declaring_more_than_its_data_is_unreadable(tmp_path):
    """An index from anyone: its declared tensor sizes are checked before any is read."""
    import tensorflow as tf

    from rundir.checkpoints import _declared_bytes, unreadable
    small = tf.train.Checkpoint(v=tf.Variable(tf.zeros([4])))
    prefix = small.write(str(tmp_path / "a" / "ckpt-1"))
    big = tf.train.Checkpoint(v=tf.Variable(tf.zeros([100000])))
    big_prefix = big.write(str(tmp_path / "b" / "ckpt-1"))
    assert unreadable(prefix) is None
    # The big checkpoint's index beside the small one's data: 400,000 bytes declared in
    # a data file of a few dozen, refused before any tensor is read.
    shutil.copy(big_prefix + ".index", prefix + ".index")
    assert os.path.getsize(prefix + ".data-00000-of-00001") < 400_000
    assert _declared_bytes(tf.train.load_checkpoint(prefix)) == 400_000
    assert unreadable(prefix) == "truncated or corrupt"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
                                                          allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12),
                                                                      children, max_size=4),
    max_leaves=12)
_fields = st.sampled_from(["seed", "dataset", "class_names", "plugins", "spec_sha256",
                           "data_dir", "global_batch", "init", "precision", "other"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(document=st.dictionaries(_fields, _json_values, max_size=5) | _json_values,
       garble=st.binary(max_size=40))
def test_fuzzed_run_json_is_read_or_refused(tmp_path, document, garble):
    """Whatever run.json holds: a dict whose checked fields have their types, or
    RunJsonError with a message; the entries check likewise never raises anything else."""
    text = json.dumps(document).encode()
    for data in (text, text[: len(garble)] + garble):
        (tmp_path / "run.json").write_bytes(data)
        try:
            info = read_run_json(str(tmp_path))
        except RunJsonError as exc:
            assert str(exc).startswith(str(tmp_path / "run.json"))
            continue
        assert isinstance(info, dict)
        if "class_names" in info:
            assert all(isinstance(n, str) for n in info["class_names"])
        if "seed" in info:
            assert type(info["seed"]) is int
    check_entries(str(tmp_path))


@pytest.mark.parametrize("entry, make, said", [
    ("checkpoints/last", "link", "checkpoints/last is a link"),
    ("logs/kspec.log", "link", "logs/kspec.log is a link"),
    ("logs/kspec.log", "fifo", "logs/kspec.log is not a regular file"),
    ("checkpoints/last", "file", "checkpoints/last is not a regular file; kspec keeps a folder"),
    ("exports", "file", "exports is not a regular file; kspec keeps a folder"),
])
def test_entries_inside_a_run_directory_are_checked_too(handed, tmp_path, capsys, entry, make,
                                                        said):
    """One level down as at the top: a linked `checkpoints/last` would have its files
    pruned and written elsewhere, a FIFO log would hang the command at its end."""
    outside = tmp_path / "users_folder"
    outside.mkdir()
    (outside / "notes.txt").write_text("mine\n")
    path = handed / entry
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    {"link": lambda: os.symlink(outside, path), "fifo": lambda: os.mkfifo(path),
     "file": lambda: path.write_text("x")}[make]()
    spec = tmp_path / "t.yaml"
    spec.write_text(SPEC)
    for argv in (["train", str(spec), "--data", "xor", "--out", str(handed), "--no-xla",
                  "--epochs", "3"], ["evaluate", str(handed)]):
        code, out, err = _kspec(capsys, *argv)
        assert code == 2 and said in err, (argv[0], err)
    assert [p.name for p in outside.iterdir()] == ["notes.txt"]


def test_predict_output_folders_are_checked_before_anything_runs(handed, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((1, 2), np.float32))
    (tmp_path / "notadir.txt").write_text("mine\n")
    for folder, said in ((tmp_path / "notadir.txt", "is a file, not a folder"),
                         (tmp_path / "notadir.txt" / "sub", "cannot make that folder"),
                         ("/", "is the file-system root")):
        code, out, err = _kspec(capsys, "predict", str(handed), str(tmp_path / "x.npy"),
                                "--draw", str(folder))
        assert code == 2 and f"--draw {folder}" in err and said in err, err
        assert out == ""
    assert (tmp_path / "notadir.txt").read_text() == "mine\n"


@pytest.mark.parametrize("name", ["a b", "café", "x:y", "-x", "\U0001F600" * 50])
def test_any_name_a_spec_accepts_trains(tmp_path, capsys, name):
    """A spec's name is also the Keras model's name, which TensorFlow takes as a name
    scope: one that `kspec check` accepts must train."""
    spec = tmp_path / "t.yaml"
    spec.write_text(SPEC.replace("name: tiny", f"name: {json.dumps(name, ensure_ascii=False)}"))
    code, out, err = _kspec(capsys, "train", str(spec), "--data", "xor", "--out",
                            str(tmp_path / "run"), "--no-xla", "--quiet")
    assert code == 0, err
