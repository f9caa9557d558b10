"""Every format round-trips and verifies; interrupted and corrupted exports are detected."""
import json
import os

import numpy as np
import pytest

from tests.conftest import SPECS, run, train_cmd

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(trained):
    from export.cli import export_run
    rows, ok = export_run(str(trained), ["savedmodel", "tflite", "keras"], "all", None)
    return rows, ok, trained / "exports"


def test_every_format_exports_and_verifies(exported):
    rows, ok, _ = exported
    by_format = {r["format"]: r for r in rows}
    assert ok, rows
    assert set(by_format) >= {"savedmodel", "tflite", "tflite-float16", "tflite-dynamic",
                              "tflite-int8", "keras", "keras model(x)"}
    assert by_format["savedmodel"]["value"] <= 1e-5
    assert by_format["tflite"]["value"] <= 1e-5
    assert by_format["tflite-int8"]["measure"] == "top-1 agreement"
    assert by_format["tflite-float16"]["checks"] == [
        {"measure": "top-1 agreement", "value": by_format["tflite-float16"]["value"],
         "bar": ">= 0.98", "passed": True}]
    assert by_format["tflite-int8"]["value"] >= 0.98
    assert by_format["tflite-int8"]["bytes"] <= 0.3 * by_format["tflite"]["bytes"]


def test_savedmodel_runs_with_only_tensorflow(exported, tmp_path):
    """A subprocess that imports nothing of kspec loads and runs the SavedModel."""
    from export.verify import run_child
    _, _, folder = exported
    x = np.zeros((2, 32, 32, 1), np.uint8)
    outs, _, modules = run_child("savedmodel", str(folder / "savedmodel"), x)
    assert not {"builder", "tasks", "export", "trainer"} & set(modules)
    assert outs["probabilities"].shape == (2, 4) and outs["class_ids"].dtype == np.int32
    assert (folder / "savedmodel" / "assets" / "labels.txt").read_text().split() == [
        "circle", "square", "triangle", "diamond"]


def test_manifest_lists_artifacts_and_detects_corruption(exported, tmp_path):
    import shutil

    from export.manifest import check_manifest
    from export.verify import run_child
    _, _, folder = exported
    copy = tmp_path / "exports"
    shutil.copytree(folder, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    for a in manifest["artifacts"]:
        a["path"] = a["path"].replace(str(folder), str(copy))
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert check_manifest(str(copy)) == []
    tfl = copy / "model_float32.tflite"
    tfl.write_bytes(tfl.read_bytes()[: tfl.stat().st_size // 2])  # a torn file
    assert check_manifest(str(copy)) == [f"{tfl}: differs from the manifest (size or sha256)"]
    with pytest.raises(RuntimeError, match="fresh process failed"):
        run_child("tflite", str(tfl), np.zeros((1, 32, 32, 1), np.uint8))


def test_interrupted_write_keeps_the_previous_artifact(tmp_path):
    from rundir.atomic import atomic_path
    target = tmp_path / "model.tflite"
    target.write_bytes(b"previous")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(str(target), suffix=".tflite") as tmp:
            with open(tmp, "wb") as fh:
                fh.write(b"half a mod")
            raise KeyboardInterrupt  # the writer dies half-way
    assert target.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["model.tflite"]  # no temporary left behind
    folder = tmp_path / "savedmodel"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(str(folder)) as tmp:
            os.makedirs(tmp)
            raise RuntimeError("converter crashed")
    assert (folder / "saved_model.pb").read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["model.tflite", "savedmodel"]


def test_export_cli_table_and_exit_codes(trained):
    res = run(["kspec", "export", str(trained), "--format", "keras"])
    assert res.returncode == 0, res.stderr
    assert "keras" in res.stdout and "ok" in res.stdout
    bad = run(["kspec", "export", str(trained) + "_missing", "--format", "tflite"])
    assert bad.returncode == 2 and "not a run directory" in bad.stderr


def test_predict_draw_and_embed_on_a_trained_run(trained, tmp_path):
    """kspec predict writes pictures; kspec embed cuts the model at a named layer."""
    from tasks.data.shapes_draw import DrawSettings, draw_example
    from PIL import Image
    images = tmp_path / "in"
    images.mkdir()
    for i in range(3):
        Image.fromarray(draw_example("test", i, DrawSettings())["image"]).save(images / f"{i}.png")
    inputs = sorted(str(p) for p in images.iterdir())
    pred = run(["kspec", "predict", str(trained), *inputs, "--draw", str(tmp_path / "pics")])
    assert pred.returncode == 0, pred.stderr
    lines = [json.loads(x) for x in pred.stdout.splitlines()]
    assert [x["input"] for x in lines] == inputs and all("name" in x for x in lines)
    pics = sorted(os.listdir(tmp_path / "pics"))
    assert len(pics) == 3 and Image.open(tmp_path / "pics" / pics[0]).size == (128, 128)
    out = tmp_path / "features.npy"
    emb = run(["kspec", "embed", str(trained), *inputs, "--layer", "dense6", "--out", str(out)])
    assert emb.returncode == 0, emb.stderr
    assert np.load(out).shape == (3, 84)


@pytest.mark.skipif(__import__("importlib.util").util.find_spec("tf2onnx") is None,
                    reason="ONNX export is the optional extra: pip install -e '.[onnx]'")
def test_onnx_exports_and_verifies_with_onnxruntime(trained):
    from export.cli import export_run
    rows, ok = export_run(str(trained), ["onnx"], "none", None)
    (row,) = [r for r in rows if r["format"] == "onnx"]
    assert ok and row["value"] <= 1e-5, row


def _brief_multi_run(tmp_path, data_dir, spec: str, steps: int, image_index: int):
    """A run trained for a few steps on `shapes/multi`, and one test image of 2-3 shapes."""
    from PIL import Image

    from tasks.data.shapes_draw import DrawSettings, draw_example
    run_dir = tmp_path / "run"
    res = run(train_cmd(SPECS / spec, run_dir, data_dir, "--epochs", "1", "--steps-per-epoch",
                        str(steps), "--no-xla", data="shapes/multi:train=320,validation=32,test=32"))
    assert res.returncode == 0, res.stderr
    image = tmp_path / "multi.png"
    Image.fromarray(draw_example("test", image_index, DrawSettings(min_shapes=2, max_shapes=3))
                    ["image"]).save(image)
    return run_dir, image


def test_mask_detection_run_exports_its_masks_and_predicts_boxes(tmp_path, data_dir):
    """The second detection head end to end: train briefly, export, predict with pictures."""
    from export.cli import export_run
    run_dir, image = _brief_multi_run(tmp_path, data_dir, "mask_detector.yaml", 10, 0)
    rows, ok = export_run(str(run_dir), ["savedmodel", "tflite"], "none", None)
    assert ok, rows
    assert {r["format"] for r in rows} >= {"savedmodel", "tflite"}
    pred = run(["kspec", "predict", str(run_dir), str(image), "--draw", str(tmp_path / "pics")])
    assert pred.returncode == 0, pred.stderr
    (line,) = [json.loads(x) for x in pred.stdout.splitlines()]
    assert line["box_format"] == "ymin,xmin,ymax,xmax" and isinstance(line["objects"], list)
    assert len(os.listdir(tmp_path / "pics")) == 1


def test_out_is_the_artifact_itself_for_one_format(trained, tmp_path):
    """`--out model.tflite` is a file and `--out sm` the SavedModel folder, relative to the
    working directory; an existing folder for a one-file format is an exit-2 message."""
    res = run(["kspec", "export", str(trained), "--format", "tflite", "--out", "model.tflite"],
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "model.tflite").is_file()
    res = run(["kspec", "export", str(trained), "--format", "savedmodel", "--out", "sm"],
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "sm" / "saved_model.pb").is_file()
    assert sorted(os.listdir(tmp_path)) == ["model.tflite", "sm"]
    bad = run(["kspec", "export", str(trained), "--format", "tflite", "--out", "sm"],
              cwd=tmp_path)
    assert bad.returncode == 2 and "is a folder; with one format --out is the artifact" \
        in bad.stderr
    manifest = json.loads((trained / "exports" / "manifest.json").read_text())
    assert {str(tmp_path / "model.tflite"), str(tmp_path / "sm")} <= {
        a["path"] for a in manifest["artifacts"]}


def test_format_all_says_onnx_was_skipped(trained):
    import importlib.util
    if importlib.util.find_spec("tf2onnx") is not None:
        pytest.skip("the ONNX extra is installed here")
    res = run(["kspec", "export", str(trained), "--format", "all"])
    assert res.returncode == 0, res.stderr
    (line,) = [ln for ln in res.stdout.splitlines() if ln.startswith("onnx ")]
    assert line.endswith('skipped: needs pip install -e ".[onnx]"')


def test_a_failed_check_leaves_the_previous_artifact_and_no_temporary(trained, tmp_path):
    """Verified under a temporary name, renamed only when it passes."""
    from export.cli import _Context, export_one
    from tasks.agreement import Check
    c = _Context(str(trained))
    dest = tmp_path / "model_float16.tflite"
    dest.write_bytes(b"previous")
    c.task.quantized_checks = lambda *args: [Check("top-1 agreement", 0.5, 0.98, True)]
    row = export_one("tflite", "float16", str(dest), c)
    assert row["passed"] is False and "path" not in row
    assert row["checks"] == [{"measure": "top-1 agreement", "value": 0.5, "bar": ">= 0.98",
                              "passed": False}]
    assert dest.read_bytes() == b"previous" and os.listdir(tmp_path) == [dest.name]


def test_leftovers_and_a_corrupt_manifest_are_cleaned_up(trained, tmp_path):
    """An unreadable manifest is replaced with a note; names that merely look like a killed
    export's temporaries are not kspec's to remove (a killed export's own folder is:
    tests/export/test_user_files.py::test_a_killed_export_is_cleaned_up_and_nothing_else)."""
    import shutil
    run_copy = tmp_path / "run"
    shutil.copytree(trained, run_copy, ignore=shutil.ignore_patterns("exports"))
    exports = run_copy / "exports"
    exports.mkdir()
    (exports / ".model.keras.ab12cd_3.tmp.keras").write_bytes(b"half")
    (exports / ".savedmodel.x1y2z3w4.tmp").mkdir()
    (exports / "manifest.json").write_text('{"artifacts": [')
    res = run(["kspec", "export", str(run_copy), "--format", "keras"])
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(exports)) == [".model.keras.ab12cd_3.tmp.keras",
                                           ".savedmodel.x1y2z3w4.tmp", "manifest.json",
                                           "model.keras"]
    assert "removed" not in res.stderr
    assert f"note: {exports}/manifest.json was unreadable and is replaced by a new one" \
        in res.stderr
    (artifact,) = json.loads((exports / "manifest.json").read_text())["artifacts"]
    assert artifact["path"] == str(exports / "model.keras")


def test_segmentation_predict_prints_a_summary_and_writes_mask_files(tmp_path, data_dir):
    from PIL import Image
    run_dir, image = _brief_multi_run(tmp_path, data_dir, "segnet_small.yaml", 2, 1)
    pred = run(["kspec", "predict", str(run_dir), str(image), "--masks", "m"], cwd=tmp_path)
    assert pred.returncode == 0, pred.stderr
    (line,) = [json.loads(x) for x in pred.stdout.splitlines()]
    assert line["mask"] == os.path.join("m", "000_multi_mask.png")
    mask = np.asarray(Image.open(tmp_path / line["mask"]))
    assert mask.shape == (64, 64) and mask.dtype == np.uint8
    assert sum(line["class_pixels"].values()) == 64 * 64
    assert {int(k) for k in line["class_pixels"]} == set(np.unique(mask).tolist())
