"""Hostile dataset files, "Trust at every boundary": every field of the wrong type or
range is exit 2 (a broken file) or a problem of its example, with the file and the JSON
path or line where it stands; images are told by their bytes and checked against the
size their annotations declare."""

import numpy as np
import pytest
from PIL import Image

from tasks.data.annotations import read_annotated
from tasks.data.sources import DataError
from tests.tasks.hostile_datasets import (coco_file, dataset, edit_coco, problems, refused,
                                          truth)

__all__ = ["truth"]  # a fixture


# --- COCO fields --------------------------------------------------------------------------

@pytest.mark.parametrize("change, words", [
    (lambda d: d.update(categories=5), "categories: expected a list, received 5"),
    (lambda d: d["images"][0].update(file_name=None),
     "images[0].file_name: expected a non-empty string, received None"),
    (lambda d: d["images"][3].update(height=0),
     "images[3].height: expected an integer from 1 to 65535, received 0"),
    (lambda d: d["images"][1].update(width=100000),
     "images[1].width: expected an integer from 1 to 65535, received 100000"),
    (lambda d: d["images"][1].update(id="1"), "images[1].id: expected an integer from 0 to"),
    (lambda d: d["categories"].append({"id": 1, "name": "other"}),
     "categories[4].id: 1 is already the id of 'circle'"),
    (lambda d: d["categories"].append({"id": 1, "name": "circle"}),
     "categories[4].id: 1 is given twice in this file (first at"),
    (lambda d: d["categories"][0].update(name=7),
     "categories[0].name: expected a non-empty string, received 7"),
], ids=["categories-5", "file_name-null", "height-0", "width-100000", "id-string",
        "duplicate-category", "category-twice", "name-int"])
def test_coco_file_fields_are_exit_2_with_their_json_path(tmp_path, truth, change, words):
    root = dataset(tmp_path, "coco", truth)
    path = edit_coco(root, change)
    assert refused(root).startswith(f"{path}: {words}")


@pytest.mark.parametrize("text, words", [
    ('{"images": [{"id": 1' + "0" * 400 + "}]}", "not valid JSON (a number of 401 digits)"),
    ('{"images": [], "x": ' + "9" * 5000 + "}", "not valid JSON (a number of 5000 digits)"),
    ('{"images": [], "x": Infinity}', "not valid JSON (Infinity is not a JSON number)"),
    ('{"images": [], "x": [NaN]}', "not valid JSON (NaN is not a JSON number)"),
    ('{"images": ' + "[" * 100_000 + "]" * 100_000 + "}", "not valid JSON (nested too deeply)"),
])
def test_coco_json_that_is_not_strict_is_exit_2(tmp_path, truth, text, words):
    root = dataset(tmp_path, "coco", truth)
    coco_file(root).write_text(text)
    assert refused(root) == f"{coco_file(root)}: {words}"


def test_coco_files_that_are_not_utf8_or_not_files(tmp_path, truth):
    root = dataset(tmp_path, "coco", truth)
    coco_file(root).write_bytes(b'{"images": [], "x": "caf\xe9"}')
    assert refused(root) == (f"{coco_file(root)}:1:25: the COCO annotation file is not UTF-8 "
                             "text (byte 0xe9); save it as UTF-8")
    coco_file(root).unlink()
    coco_file(root).mkdir()
    assert refused(root) == f"{coco_file(root)}: is a folder; expected a COCO annotation file"


@pytest.mark.parametrize("change, words", [
    (lambda a: a.update(image_id=[1]), "annotations[0]: image_id a list of 1 item(s) is not in "
                                       "images (labels without an image)"),
    (lambda a: a.update(bbox=[1, 2, "3", 4]),
     "annotations[0].bbox[2]: expected a finite number of at least 0, received '3'"),
    (lambda a: a.update(bbox=[1, 2, 3]),
     "annotations[0].bbox: expected a list of 4 items, received a list of 3 item(s)"),
    (lambda a: a.update(category_id=10 ** 20),
     "annotations[0]: category_id an integer of 21 digits is not one of the categories"),
    (lambda a: a.update(iscrowd="yes"),
     "annotations[0].iscrowd: expected an integer from 0 to 1, received 'yes'"),
    (lambda a: a.update(segmentation={"counts": "a\x7fb", "size": [32, 32]}),
     "annotations[0].segmentation.counts: '\\x7f' is not a compressed RLE character"),
    (lambda a: a.update(segmentation={"counts": [1, "2"], "size": [32, 32]}),
     "annotations[0].segmentation.counts[1]: expected an integer of at least 0, received '2'"),
    (lambda a: a.update(segmentation={"counts": [1, 2], "size": [32, 32]}),
     "annotations[0].segmentation.counts: runs of 3 pixels for an image of 32x32 = 1024"),
    (lambda a: a.update(segmentation={"counts": [1024], "size": [64, 16]}),
     "annotations[0].segmentation.size: the mask is 64x16 (height x width), its image 32x32"),
    (lambda a: a.update(segmentation=[[1, 2, 3, "x", 5, 6]]),
     "annotations[0].segmentation[0][3]: expected a finite number from -65535 to 131070, "
     "received 'x'"),
    (lambda a: a.update(segmentation=[5]),
     "annotations[0].segmentation[0]: expected a list, received 5"),
], ids=["image_id-list", "bbox-string", "bbox-short", "category-huge", "iscrowd", "rle-char",
        "rle-type", "rle-sum", "rle-size", "polygon-type", "polygon-not-list"])
def test_coco_object_fields_are_problems_of_their_example(tmp_path, truth, change, words):
    root = dataset(tmp_path, "coco", truth)
    path = edit_coco(root, lambda d: change(d["annotations"][0]))
    found = problems(root)
    assert found == [f"{path}: {words}"]
    ann = read_annotated(str(root))
    for records in ann.splits.values():  # what is left draws its masks
        for r in records:
            semantic, _ = r.mask()
            assert semantic.shape == (32, 32)


def test_coco_declared_size_must_be_the_image_size(tmp_path, truth):
    root = dataset(tmp_path, "coco", truth)

    def change(doc):
        doc["images"][2].update(height=20000, width=20000)
        for a in doc["annotations"]:
            a.pop("segmentation")
    edit_coco(root, change)
    (found,) = problems(root)
    assert found == (f"{root}/train2017/t002.png: the annotations say 20000x20000 (width x "
                     "height), the image is 32x32")


@pytest.mark.parametrize("fmt, kind, magic", [("TIFF", "TIFF", None), ("PPM", "PPM", None),
                                               ("ICO", "ICO", None)])
def test_images_training_cannot_decode_are_told_by_their_bytes(tmp_path, truth, fmt, kind,
                                                               magic):
    root = dataset(tmp_path, "coco", truth)
    image = root / "train2017" / "t001.png"
    Image.open(image).convert("RGB").save(image, format=fmt)  # still named .png
    (found,) = problems(root)
    assert found == (f"{image}: unreadable image: a {kind} file named .png; training decodes "
                     "only PNG, JPEG, GIF and BMP")


def test_a_folder_named_like_an_image_is_a_problem(tmp_path, truth):
    root = dataset(tmp_path, "coco", truth)
    image = root / "train2017" / "t001.png"
    image.unlink()
    image.mkdir()
    (found,) = problems(root)
    assert found == (f"{image}: unreadable image: is a folder; expected a PNG, JPEG, GIF or "
                     "BMP image")


# --- VOC ----------------------------------------------------------------------------------

def test_voc_text_files_must_be_utf8(tmp_path, truth):
    root = dataset(tmp_path, "voc", truth)
    (root / "classes.txt").write_bytes(b"circle\nsqu\xffare\n")
    assert refused(root) == (f"{root}/classes.txt:2:4: the class list is not UTF-8 text "
                             "(byte 0xff); save it as UTF-8")
    (root / "classes.txt").write_text("circle\nsquare\ncircle\ntriangle\ndiamond\n")
    assert refused(root).startswith(f"{root}/classes.txt:3: class 'circle' is listed twice")
    (root / "classes.txt").write_text("circle\nsquare\ntriangle\ndiamond\n")
    (root / "ImageSets" / "Main" / "train.txt").write_bytes(b"t000\n\xc3(\n")
    assert refused(root).startswith(f"{root}/ImageSets/Main/train.txt:2:1: the image set list "
                                    "is not UTF-8")


@pytest.mark.parametrize("old, new, words", [
    ("<height>32</height>", "<height>0</height>",
     "<size><height>: expected an integer from 1 to 65535, received '0'"),
    ("<width>32</width>", "<width>" + "9" * 400 + "</width>",
     "<size><width>: expected an integer from 1 to 65535, received '99999999999999999999"),
    ("<annotation>", '<!DOCTYPE a [<!ENTITY x "xx">]><annotation>',
     "a DOCTYPE or ENTITY declaration; VOC annotations have none"),
])
def test_voc_file_fields_are_exit_2(tmp_path, truth, old, new, words):
    root = dataset(tmp_path, "voc", truth)
    xml = root / "Annotations" / "t002.xml"
    xml.write_text(xml.read_text().replace(old, new, 1))
    assert refused(root).startswith(f"{xml}: {words}")


def test_voc_object_fields_and_mask_sizes_are_problems(tmp_path, truth):
    root = dataset(tmp_path, "voc", truth)
    xml = root / "Annotations" / "t002.xml"
    text = xml.read_text()
    xml.write_text(text[:text.index("<xmin>") + 6] + "nan" + text[text.index("</xmin>"):])
    mask = root / "SegmentationClass" / "t003.png"
    Image.fromarray(np.zeros((16, 16), np.uint8), mode="P").save(mask)
    assert problems(root) == [
        f"{xml}: object 0: <xmin>: expected a finite number, received 'nan'",
        f"{root}/JPEGImages/t003.png: mask {mask} is 16x16, its image 32x32 (it would be "
        "stretched)"]


# --- YOLO ---------------------------------------------------------------------------------

def test_yolo_data_yaml_alias_bomb_and_types_are_exit_2(tmp_path, truth):
    root = dataset(tmp_path, "yolo", truth)
    path = root / "data.yaml"
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi"))
    path.write_text(bomb + "names: [a]\ntrain: images/train\n")
    assert refused(root) == (f"{path}:1:4: YAML anchors and aliases are not allowed in "
                             "data.yaml; write the value out")
    path.write_bytes(b"names: [caf\xe9]\n")
    assert refused(root) == (f"{path}:1:12: the data.yaml is not UTF-8 text (byte 0xe9); "
                             "save it as UTF-8")
    path.write_text("names: [a, 5]\ntrain: images/train\n")
    assert refused(root) == f"{path}:1:12: names[1]: expected a non-empty string, received 5"
    path.write_text("names: [a, b]\nnames: [c]\ntrain: images/train\n")
    assert refused(root) == f"{path}:2:1: duplicate key 'names'; keep one"
    path.write_text("names: " + "[" * 100_000)
    assert refused(root) == f"{path}:1:23: nested deeper than 16 levels"
    path.write_text("names: [a\x00]\ntrain: images/train\n")  # found by the fuzz suite
    assert refused(root) == (f"{path}: not valid YAML: unacceptable character #x0000: special "
                             'characters are not allowed in "<unicode string>", position 9')


@pytest.mark.parametrize("line, words", [
    ("100000000000000000000000 0.5 0.5 0.2 0.2",
     "expected class cx cy w h (a class from 0 and finite numbers), read "
     "'100000000000000000000000 0.5 0.5 0.2 0.2'"),
    ("0 nan 0.5 0.2 0.2", "expected class cx cy w h (a class from 0 and finite numbers), read "
                          "'0 nan 0.5 0.2 0.2'"),
    ("0 0.5 0.5 " + "1" * 5000 + " 0.2", "expected class cx cy w h (a class from 0 and finite "
                                          "numbers), read '0 0.5 0.5 1111111111"),
])
def test_yolo_label_lines_are_problems_of_their_image(tmp_path, truth, line, words):
    root = dataset(tmp_path, "yolo", truth)
    labels = root / "labels" / "train" / "t001.txt"
    labels.write_text(line + "\n")
    (found,) = problems(root)
    assert found.startswith(f"{labels}:1: {words}")


def test_a_yolo_labels_file_that_is_not_utf8_is_a_problem(tmp_path, truth):
    root = dataset(tmp_path, "yolo", truth)
    labels = root / "labels" / "train" / "t001.txt"
    labels.write_bytes(b"0 0.5 0.5 0.2 0.2\n\xff\n")
    assert problems(root) == [f"{labels}:2:1: the YOLO labels file is not UTF-8 text (byte "
                              "0xff); save it as UTF-8"]


def test_yolo_lists_must_be_utf8_text_files(tmp_path, truth):
    root = dataset(tmp_path, "yolo", truth)
    path = root / "data.yaml"
    text = path.read_text()
    (root / "train.txt").write_bytes(b"images/train/t000.png\nimages/train/t\xff.png\n")
    path.write_text(text.replace("train: images/train", "train: train.txt"))
    assert refused(root) == (f"{root}/train.txt:2:15: the image list is not UTF-8 text (byte "
                             "0xff); save it as UTF-8")
    # A file where a folder is expected: read as a list, which a PNG is not.
    path.write_text(text.replace("train: images/train", "train: images/train/t000.png"))
    assert refused(root).startswith(f"{root}/images/train/t000.png:1:1: the image list is not "
                                    "UTF-8 text (byte 0x89)")


# --- boxes.csv and masks/ -----------------------------------------------------------------

def _dense(tmp_path, n=120, masks=False):
    root = tmp_path / "dense"
    (root / "images").mkdir(parents=True)
    rows = ["file,class,ymin,xmin,ymax,xmax"]
    for i in range(n):
        Image.new("RGB", (8, 8), (i, 0, 0)).save(root / "images" / f"{i:03d}.png")
        rows.append(f"{i:03d}.png,{i % 2},0.1,0.1,0.9,0.9")
        if masks:
            (root / "masks").mkdir(exist_ok=True)
            Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "masks" / f"{i:03d}.png")
    return root, rows


def test_boxes_csv_bad_rows_and_missing_rows_are_problems(tmp_path):
    from tasks.data.folder import load_folder
    root, rows = _dense(tmp_path)
    rows[1] = "000.png,100000000000000000000,0.1,0.1,0.9,0.9"
    del rows[2]  # 001.png has no row
    rows[3] = "003.png,1,nan,0.1,0.9,0.9"
    (root / "boxes.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as info:
        load_folder(str(root))
    assert str(info.value) == (
        f"folder {root}: 3 of 120 images cannot be read (2.5%, over 1%): {root}/images/000.png: "
        f"{root}/boxes.csv:2: class: expected an integer from 0 to 65535, received "
        f"'100000000000000000000'; {root}/images/001.png: no row in {root}/boxes.csv; "
        f"{root}/images/003.png: {root}/boxes.csv:4: ymin: expected a finite number from 0 to "
        "1, received 'nan'")
    rows[3] = "003.png,1,0.1,0.1,0.9,0.9"
    rows.insert(2, "001.png,1,0.1,0.1,0.9,0.9")
    (root / "boxes.csv").write_text("\n".join(rows) + "\n")
    source = load_folder(str(root))
    assert sum(source.sizes.values()) == 119 and "boxes.csv:2: class" in source.notes[0]
    (root / "boxes.csv").write_bytes(b"file,class\n\xff\n")
    with pytest.raises(DataError, match=r"boxes.csv:2:1: the boxes.csv is not UTF-8 text"):
        load_folder(str(root))


def test_a_mask_of_another_size_is_a_problem(tmp_path):
    from tasks.data.folder import load_folder
    root, _ = _dense(tmp_path, masks=True)
    Image.fromarray(np.zeros((4, 8), np.uint8)).save(root / "masks" / "007.png")
    source = load_folder(str(root))
    assert source.notes == [f"skipped 1 unreadable image(s) of 240 in {root}: "
                            f"{root}/masks/007.png: mask of 8x4 for an image of 8x8"]
