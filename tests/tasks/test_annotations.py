"""COCO, Pascal VOC and YOLO folders read back exactly as written, the same images give the
same examples in every format, and broken annotations are exit 2 (or a note) naming the
file and line or entry."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tasks.data.annotations import detect, read_annotated
from tasks.data.coco import rle_counts, segmentation_mask
from tasks.data.report import describe, grid_collisions
from tasks.data.sources import DataError, load_source
from tests.conftest import ROOT
from tests.tasks.annotated_writers import WRITERS, examples

FORMATS = sorted(WRITERS)


@pytest.fixture(scope="module")
def truth():
    return examples(train=16, validation=8)


@pytest.fixture(scope="module")
def folders(tmp_path_factory, truth):
    out = {}
    for fmt, write in WRITERS.items():
        root = str(tmp_path_factory.mktemp(fmt))
        write(root, truth)
        out[fmt] = root
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_reads_back_what_was_written(folders, truth, fmt):
    ann = read_annotated(folders[fmt])
    assert detect(folders[fmt]) == fmt and not ann.problems
    assert ann.class_names == ("circle", "square", "triangle", "diamond")
    for split, items in truth.items():
        records = {os.path.splitext(os.path.basename(r.image))[0]: r for r in ann.splits[split]}
        assert sorted(records) == [name for name, _ in items]  # same splits
        for name, ex in items:
            r = records[name]
            n = ex["image"].shape[0]
            assert np.abs(r.boxes - ex["objects"]["bbox"]).max() * n < 1e-4  # to the pixel
            assert r.labels.tolist() == ex["objects"]["label"].tolist()
            if fmt == "yolo":
                assert not ann.has_masks
                continue
            semantic, instance = r.mask()
            assert (semantic == ex["segmentation_mask"][..., 0]).all()
            if fmt == "coco":
                assert (instance == ex["instance_mask"][..., 0]).all()


def canonical(root, split="validation"):
    source = load_source(root)
    return source, [{k: v.numpy() for k, v in ex.items()} for ex in source.splits[split]]


def test_the_same_images_give_the_same_examples_in_every_format(folders, truth):
    sources = {fmt: canonical(folders[fmt]) for fmt in FORMATS}
    (_, coco), (_, voc), (_, yolo) = (sources[f] for f in ("coco", "voc", "yolo"))
    assert len(coco) == len(voc) == len(yolo) == len(truth["validation"])
    for a, b, c, (_, ex) in zip(coco, voc, yolo, truth["validation"]):
        for other in (b, c):
            assert (a["image"] == other["image"]).all() and (a["image"] == ex["image"]).all()
            np.testing.assert_allclose(a["boxes"], other["boxes"], atol=1e-6)
            assert a["box_labels"].tolist() == other["box_labels"].tolist()
            assert a["label"] == other["label"]
            np.testing.assert_allclose(a["bbox"], other["bbox"], atol=1e-6)
        # the main object is the largest box
        areas = (a["boxes"][:, 2] - a["boxes"][:, 0]) * (a["boxes"][:, 3] - a["boxes"][:, 1])
        assert a["label"] == a["box_labels"][np.argmax(areas)]
        assert (a["mask"] == b["mask"]).all() and (a["mask"] == ex["segmentation_mask"]).all()
        assert (a["instance_mask"] == ex["instance_mask"]).all()
    for fmt, (source, _) in sources.items():
        assert source.sizes == {"train": 16, "validation": 8, "test": 0}, fmt
        assert source.mask_classes == (0 if fmt == "yolo" else 5)


def test_compressed_rle_and_polygons_agree_with_pycocotools():
    mask_api = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(0)
    for _ in range(5):
        m = np.zeros((37, 53), np.uint8)
        for _ in range(4):
            y, x = rng.integers(0, 30), rng.integers(0, 45)
            m[y:y + rng.integers(1, 9), x:x + rng.integers(1, 9)] = 1
        encoded = mask_api.encode(np.asfortranarray(m))
        text = encoded["counts"].decode()
        decoded = segmentation_mask({"counts": text, "size": [37, 53]}, 37, 53)
        assert (decoded == m.astype(bool)).all()
        assert sum(rle_counts(text)) == m.size
    poly = [[10.0, 5.0, 40.0, 8.0, 35.0, 30.0, 12.0, 25.0]]
    ours = segmentation_mask(poly, 37, 53)
    ref = mask_api.decode(mask_api.merge(mask_api.frPyObjects(poly, 37, 53))).astype(bool)
    assert (ours & ref).sum() / (ours | ref).sum() > 0.9


def test_data_report_counts(folders, truth):
    d = describe(read_annotated(folders["coco"]), grid=8)
    objects = np.concatenate([ex["objects"]["label"] for items in truth.values()
                              for _, ex in items])
    assert [c["objects"] for c in d["classes"]] == [int((objects == k).sum()) for k in range(4)]
    assert d["splits"]["train"]["images"] == 16 and d["masks"] is True
    assert d["image_sizes"] == [{"height": 64, "width": 64, "images": 24}]
    # the shared-cell count, done here from the drawn boxes
    shared = 0
    for items in truth.values():
        for _, ex in items:
            b = ex["objects"]["bbox"]
            cells = [(min(int((y0 + y1) / 2 * 8), 7), min(int((x0 + x1) / 2 * 8), 7))
                     for y0, x0, y1, x1 in b]
            shared += len(cells) - len(set(cells))
    assert d["grid_collisions"]["objects"] == shared
    assert d["grid_collisions"]["of"] == len(objects)


def test_grid_collisions_are_counted_per_cell():
    from tasks.data.annotations import Record
    r = Record("a.png", [[0.1, 0.1, 0.2, 0.2], [0.12, 0.12, 0.2, 0.2], [0.6, 0.6, 0.9, 0.9]],
               [0, 1, 0])
    assert grid_collisions([r], 4)[:2] == (1, 3)
    assert grid_collisions([r], 64)[:2] == (0, 3)


def kspec(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(ROOT / "kspec_cli.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_kspec_data_table_and_json(folders):
    res = kspec("data", folders["voc"])
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f"{folders['voc']}: Pascal VOC"
    assert lines[1] == ("splits        train 16 images / " + lines[1].split(" / ")[1].split(",")[0]
                        + ", validation 8 images / " + lines[1].split(" / ")[2])
    assert "problems      0 (none)" in lines
    d = json.loads(kspec("data", folders["yolo"], "--json").stdout)
    assert d["format"] == "YOLO" and d["masks"] is False and d["problems"] == []


def broken(tmp_path, fmt, truth, edit):
    root = tmp_path / fmt
    WRITERS[fmt](str(root), {"train": truth["train"][:8], "validation": truth["validation"][:2]})
    edit(root)
    return str(root)


def _json_typo(root):
    path = root / "annotations" / "instances_train2017.json"
    text = path.read_text()
    path.write_text(text[:200] + "\n,," + text[200:])


def _xml_typo(root):
    (root / "Annotations" / "t003.xml").write_text("<annotation><size><width>64</width>\n"
                                                   "<height>64</height></size><object>\n")


def _yaml_missing(root):
    (root / "data.yaml").write_text((root / "data.yaml").read_text().replace(
        "val: images/val", "val: images/valid"))


def _yolo_line(root):
    (root / "labels" / "train" / "t002.txt").write_text("0 0.5 0.5 0.2\n")


def _unknown_category(root):
    path = root / "annotations" / "instances_train2017.json"
    doc = json.loads(path.read_text())
    doc["annotations"][0]["category_id"] = 99
    path.write_text(json.dumps(doc))


def _box_outside(root):
    (root / "labels" / "train" / "t001.txt").write_text("0 0.9 0.5 0.4 0.2\n")


@pytest.mark.parametrize("fmt, edit, words", [
    ("coco", _json_typo, "instances_train2017.json:2:1: not valid JSON"),
    ("voc", _xml_typo, "t003.xml:3:"),
    ("yolo", _yaml_missing, "data.yaml: val: 'images/valid' names"),
    ("yolo", _yolo_line, "t002.txt:1: expected 5 values (class cx cy w h), read 4"),
    ("coco", _unknown_category, "annotations[0]: category_id 99 is not one of the categories"),
    ("yolo", _box_outside, "t001.txt: object 0: box outside the image"),
], ids=["json", "xml", "data.yaml", "yolo-line", "category", "outside"])
def test_broken_annotations_are_exit_2_naming_the_file(tmp_path, truth, fmt, edit, words):
    root = broken(tmp_path, fmt, truth, edit)
    res = kspec("data", root)
    problems_listed = res.returncode == 0 and words in res.stdout  # problems are listed
    assert problems_listed or (res.returncode == 2 and words in res.stderr), res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    with pytest.raises(DataError) as info:  # 1 of 10 examples is over 1%: training refuses
        load_source(root)
    assert words in str(info.value)


def test_problems_in_under_one_percent_are_skipped_with_a_note(tmp_path):
    many = examples(train=110, validation=2, size=32, seed=5)
    root = tmp_path / "yolo"
    WRITERS["yolo"](str(root), many)
    (root / "labels" / "train" / "t007.txt").write_text("9 0.5 0.5 0.2 0.2\n")
    source = load_source(str(root))
    assert source.sizes["train"] == 109
    (note,) = [n for n in source.notes if n.startswith("skipped")]
    assert note.startswith("skipped 1 of 112 examples with problems: ") and "t007.txt" in note
    assert "class 9 is not one of the 4 classes" in note
    (root / "labels" / "train" / "t008.txt").write_text("0 0.5 0.5 0.0 0.2\n")
    with pytest.raises(DataError, match=r"problems in 2 of 112 examples \(1.8%, over 1%\)"):
        load_source(str(root))


def test_kspec_data_on_something_else_is_exit_2(tmp_path):
    for path, words in ((tmp_path / "none", "no such folder"),
                        (tmp_path, "no COCO (annotations/instances_*.json), Pascal VOC")):
        res = kspec("data", str(path))
        assert res.returncode == 2 and words in res.stderr


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_detector_trains_and_evaluates_on_each_format(tmp_path, folders, fmt):
    shutil.copytree(folders[fmt], tmp_path / "data")
    res = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), str(ROOT / "specs" / "detector.yaml"),
         "--data", "data", "--out", "run", "--epochs", "1", "--batch-size", "8", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    res = kspec("evaluate", "run", "--split", "validation", "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    metrics = json.loads(res.stdout)
    assert 0.0 <= metrics["map"] <= metrics["map50"] <= 1.0
    assert set(metrics) >= {"loss", "map50", "map"}


def test_training_notes_objects_that_share_a_grid_cell(tmp_path, truth):
    from builder import load_spec
    from tasks import make_task

    root = tmp_path / "yolo"
    WRITERS["yolo"](str(root), {"train": truth["train"][:4], "validation": truth["validation"][:1]})
    (root / "labels" / "train" / "t001.txt").write_text("0 0.5 0.5 0.2 0.2\n1 0.51 0.52 0.1 0.1\n")
    source = load_source(str(root))
    notes = make_task(load_spec(ROOT / "specs" / "detector.yaml")).check_source(source)
    (note,) = [n for n in notes if "grid cell" in n]
    assert note.startswith("1 of ") and "share a 8x8 grid cell with another" in note
    assert "t001.png" in note


def test_kspec_data_on_class_folders(tmp_path):
    from PIL import Image
    for name, n in (("cats", 3), ("dogs", 5)):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(tmp_path / "photos" / name / f"{i}.png")
    res = kspec("data", "photos", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[:3][0] == "photos: class folders"
    assert res.stdout.splitlines()[2] == "classes       2: cats 3, dogs 5"


def test_coco_as_one_json_beside_an_images_folder_and_voc_difficult(tmp_path, truth):
    root = tmp_path / "coco"
    write = WRITERS["coco"]
    write(str(root), {"train": truth["train"][:6]})
    os.rename(root / "annotations" / "instances_train2017.json", root / "labels.json")
    os.rename(root / "train2017", root / "images")
    shutil.rmtree(root / "annotations")
    ann = read_annotated(str(root))
    assert ann.format == "COCO" and sum(len(v) for v in ann.splits.values()) == 6
    voc = tmp_path / "voc"
    WRITERS["voc"](str(voc), {"train": truth["train"][:3]})
    xml = voc / "Annotations" / "t000.xml"
    xml.write_text(xml.read_text().replace("<difficult>0</difficult>",
                                           "<difficult>1</difficult>", 1))
    records = {os.path.basename(r.image): r for r in read_annotated(str(voc)).splits["train"]}
    assert records["t000.png"].ignore.tolist()[0] is True
    assert not records["t001.png"].ignore.any()
