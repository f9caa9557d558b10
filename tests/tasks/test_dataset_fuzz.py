"""Fuzzing every dataset reader: a small valid COCO json, VOC xml, YOLO folder, class folder
and boxes.csv, mutated (wrong types, huge numbers, NaN, bytes that are not UTF-8, deep
nesting, names that escape), must each end in a dataset read or the readers' DataError
(which `kspec data` and training turn into exit 2) with a message, never another
exception; what is read must then give its masks without error."""
import json
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tasks.data.annotations import read_annotated, screened
from tasks.data.report import describe
from tasks.data.sources import DataError
from tests.tasks.annotated_writers import WRITERS, examples

FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

NAMES = st.sampled_from(["../../etc/passwd", "/etc/shadow", "../outside.png", "", "\x00",
                         "images", "a" * 300, "t000.png", "caf\u00e9.png"])
NUMBER_WORDS = st.sampled_from(["nan", "inf", "-inf", "1e400", "9" * 5000, "-1", "0", "0.5",
                                "1" + "0" * 23, "0x10", "", "1_000", "\u0663"])
JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10 ** 30, 10 ** 30), st.just(10 ** 400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8), NAMES,
    st.lists(st.integers(-3, 3), max_size=5), st.dictionaries(st.text(max_size=3),
                                                              st.integers(), max_size=2))


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    data = examples(train=3, validation=1, size=16, seed=11)
    out = {}
    for fmt, write in WRITERS.items():
        out[fmt] = str(tmp_path_factory.mktemp(fmt) / "data")
        write(out[fmt], data)
    return out


def copy_of(base):
    top = tempfile.mkdtemp()
    root = os.path.join(top, "data")
    shutil.copytree(base, root, symlinks=True)
    return top, root


def outcome(root) -> str:
    """"read" or "refused"; any other exception fails the test."""
    try:
        ann = read_annotated(root)
        describe(ann)
        for records in ann.splits.values():
            for r in records:
                if ann.has_masks:
                    semantic, _ = r.mask()
                    assert semantic.shape == tuple(r.size or semantic.shape)
        screened(ann)
    except DataError as exc:
        assert str(exc).strip()
        return "refused"
    return "read"


def mutate_bytes(data: bytes, draw) -> bytes:
    how = draw(st.sampled_from(["splice", "truncate", "latin1", "nest"]))
    if how == "truncate":
        return data[:draw(st.integers(0, len(data)))]
    if how == "latin1":
        at = draw(st.integers(0, len(data)))
        return data[:at] + b"\xe9\xff" + data[at:]
    if how == "nest":
        depth = draw(st.sampled_from([10, 1000, 100_000]))
        return b"[" * depth + data + b"]" * depth
    at = draw(st.integers(0, len(data)))
    return data[:at] + draw(st.binary(max_size=12)) + data[at + draw(st.integers(0, 8)):]


def _pick_path(holder, draw):
    """A random place in the JSON document holder[""]: (container, key)."""
    node, key = holder, ""
    while isinstance(node[key], (dict, list)) and node[key] and draw(st.integers(0, 3)):
        child = node[key]
        keys = list(child) if isinstance(child, dict) else list(range(len(child)))
        node, key = child, draw(st.sampled_from(keys))
    return node, key


@FUZZ
@given(data=st.data())
def test_coco_reader_ends_in_data_or_a_data_error(bases, data):
    top, root = copy_of(bases["coco"])
    try:
        path = os.path.join(root, "annotations", "instances_train2017.json")
        if data.draw(st.booleans()):
            holder = {"": json.load(open(path))}
            for _ in range(data.draw(st.integers(1, 3))):
                node, key = _pick_path(holder, data.draw)
                node[key] = data.draw(JSON_VALUES)
            open(path, "w").write(json.dumps(holder[""]))
        else:
            raw = open(path, "rb").read()
            open(path, "wb").write(mutate_bytes(raw, data.draw))
        assert outcome(root) in ("read", "refused")
    finally:
        shutil.rmtree(top)


@FUZZ
@given(data=st.data())
def test_voc_reader_ends_in_data_or_a_data_error(bases, data):
    top, root = copy_of(bases["voc"])
    try:
        xml = os.path.join(root, "Annotations", "t001.xml")
        target = data.draw(st.sampled_from(["xml", "xml", "bytes", "classes", "imagesets"]))
        if target == "xml":
            tree = ET.parse(xml)
            elements = list(tree.getroot().iter())
            for _ in range(data.draw(st.integers(1, 3))):
                element = data.draw(st.sampled_from(elements))
                element.text = data.draw(st.one_of(NUMBER_WORDS, NAMES, st.text(max_size=6)))
            tree.write(xml)
        else:
            path = {"bytes": xml, "classes": os.path.join(root, "classes.txt"),
                    "imagesets": os.path.join(root, "ImageSets", "Main", "train.txt")}[target]
            open(path, "wb").write(mutate_bytes(open(path, "rb").read(), data.draw))
        assert outcome(root) in ("read", "refused")
    finally:
        shutil.rmtree(top)


YAML_VALUES = st.sampled_from([
    "5", "null", "[a, 5]", "{0: a, 2: b}", "&a [x]", "*a", "!!python/object:os.system x",
    "../../etc", "/etc", "[" * 200, "1" * 5000, "'images/train'", "{x: [1, {y: 2}]}",
    "[../../etc/passwd]", "yes", ".nan", "train.txt"])


@FUZZ
@given(data=st.data())
def test_yolo_reader_ends_in_data_or_a_data_error(bases, data):
    top, root = copy_of(bases["yolo"])
    try:
        target = data.draw(st.sampled_from(["yaml", "bytes", "labels", "list"]))
        yaml_path = os.path.join(root, "data.yaml")
        if target == "yaml":
            lines = open(yaml_path).read().splitlines()
            k = data.draw(st.integers(0, len(lines) - 1))
            key = lines[k].split(":")[0]
            lines[k] = f"{key}: {data.draw(YAML_VALUES)}"
            open(yaml_path, "w").write("\n".join(lines) + "\n")
        elif target == "bytes":
            open(yaml_path, "wb").write(mutate_bytes(open(yaml_path, "rb").read(), data.draw))
        elif target == "labels":
            words = data.draw(st.lists(st.one_of(NUMBER_WORDS, st.text(max_size=4)),
                                       max_size=7))
            open(os.path.join(root, "labels", "train", "t001.txt"), "w").write(
                " ".join(words) + "\n")
        else:
            names = data.draw(st.lists(st.one_of(NAMES, st.just("images/train/t000.png")),
                                       min_size=1, max_size=4))
            open(os.path.join(root, "train.txt"), "w").write("\n".join(names) + "\n")
            text = open(yaml_path).read().replace("train: images/train", "train: train.txt")
            open(yaml_path, "w").write(text)
        assert outcome(root) in ("read", "refused")
    finally:
        shutil.rmtree(top)


def _class_folders(root):
    for cls in ("a", "b"):
        os.makedirs(os.path.join(root, cls))
        for i in range(3):
            Image.new("RGB", (6, 5), (40 * i, 0, 0)).save(os.path.join(root, cls, f"{i}.png"))


IMAGE_BYTES = st.sampled_from([b"", b"II*\x00" + b"\x00" * 40, b"P6\n2 2\n255\n" + b"\x00" * 12,
                               b"\x00\x00\x01\x00", b"\x89PNG\r\n\x1a\n", b"GIF89a",
                               b"\xff\xd8\xff\xe0" + b"\x00" * 20, b"BM" + b"\x00" * 30])


@FUZZ
@given(how=st.sampled_from(["bytes", "splice", "symlink", "folder"]), payload=IMAGE_BYTES,
       cut=st.integers(0, 200))
def test_class_folder_reader_ends_in_data_or_a_data_error(how, payload, cut):
    from tasks.data.folder import load_folder
    top = tempfile.mkdtemp()
    try:
        root = os.path.join(top, "data")
        _class_folders(root)
        image = os.path.join(root, "a", "1.png")
        if how == "bytes":
            open(image, "wb").write(payload)
        elif how == "splice":
            raw = open(image, "rb").read()
            open(image, "wb").write(payload + raw[cut:])
        elif how == "symlink":
            os.unlink(image)
            os.symlink("/etc/hostname" if cut % 2 else "../../outside.png", image)
        else:
            os.unlink(image)
            os.mkdir(image)
        try:
            source = load_folder(root)
            assert sum(source.sizes.values()) == 6  # nothing was wrong with it after all
        except DataError as exc:
            assert "a/1.png" in str(exc)
    finally:
        shutil.rmtree(top)


CSV_FIELDS = st.one_of(NUMBER_WORDS, NAMES, st.text(max_size=5), st.just("0.2"))


@FUZZ
@given(rows=st.lists(st.lists(CSV_FIELDS, min_size=1, max_size=7), max_size=4),
       raw=st.binary(max_size=20))
def test_boxes_csv_reader_ends_in_data_or_a_data_error(rows, raw):
    from tasks.data.folder import load_folder
    top = tempfile.mkdtemp()
    try:
        os.makedirs(os.path.join(top, "images"))
        lines = []
        for i in range(3):
            Image.new("RGB", (6, 5)).save(os.path.join(top, "images", f"{i}.png"))
            lines.append(f"{i}.png,0,0.1,0.1,0.9,0.9")
        text = "\n".join(lines + [",".join(r) for r in rows]).encode("utf-8", "surrogatepass")
        open(os.path.join(top, "boxes.csv"), "wb").write(text + raw)
        try:
            load_folder(top)
        except DataError as exc:
            assert str(exc).strip()
    finally:
        shutil.rmtree(top)
