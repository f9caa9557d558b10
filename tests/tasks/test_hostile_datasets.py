"""Hostile dataset folders, "Trust at every boundary": names that point outside the
dataset folder (COCO file_name, VOC <filename>, YOLO lists, symlinks, class folders) are
never opened and are a problem of their example, counted like an unreadable image."""
import os
import subprocess
import sys

import pytest
from PIL import Image

from tasks.data.annotations import read_annotated, screened
from tasks.data.report import describe, table
from tasks.data.sources import DataError, load_source
from tests.conftest import ROOT
from tests.tasks.annotated_writers import WRITERS, examples
from tests.tasks.hostile_datasets import (dataset, edit_coco, outside_marker, problems,
                                          read_moves_atime, refused, truth)

__all__ = ["truth"]  # a fixture


# --- names that point outside the dataset folder ------------------------------------------

@pytest.mark.parametrize("name", ["../../outside/marker.png", "/etc/passwd", "/etc/shadow"])
def test_coco_file_names_outside_the_folder_are_problems(tmp_path, truth, name):
    root = dataset(tmp_path, "coco", truth)
    marker = outside_marker(tmp_path)
    if name.startswith("../"):
        name = os.path.relpath(marker, root / "train2017")
    edit_coco(root, lambda doc: doc["images"][0].update(file_name=name))
    found = problems(root)
    real = os.path.realpath(os.path.join(root, "images", name))
    assert f"{real}: resolves to {real}, outside the dataset folder " \
           f"{os.path.realpath(root)}" in found[0]
    assert len(found) == 1
    if read_moves_atime(tmp_path):
        assert os.stat(marker).st_atime == 1_000_000_000  # never opened


def test_a_symlinked_image_pointing_outside_is_a_problem(tmp_path, truth):
    root = dataset(tmp_path, "coco", truth)
    marker = outside_marker(tmp_path)
    image = root / "train2017" / "t000.png"
    image.unlink()
    image.symlink_to(marker)
    (found,) = problems(root)
    assert found == (f"{image}: resolves to {marker}, outside the dataset folder "
                     f"{os.path.realpath(root)}")


def test_voc_filename_outside_the_folder_is_a_problem(tmp_path, truth):
    root = dataset(tmp_path, "voc", truth)
    xml = root / "Annotations" / "t001.xml"
    xml.write_text(xml.read_text().replace("<filename>t001.png", "<filename>../../etc/hostname"))
    (found,) = problems(root)
    assert found == (f"{tmp_path}/etc/hostname: resolves to {tmp_path}/etc/hostname, outside "
                     f"the dataset folder {os.path.realpath(root)}")


def test_a_voc_annotation_symlinked_outside_is_a_problem(tmp_path, truth):
    root = dataset(tmp_path, "voc", truth)
    marker = outside_marker(tmp_path)
    xml = root / "Annotations" / "t002.xml"
    xml.unlink()
    xml.symlink_to(marker)
    assert problems(root) == [f"{xml}: resolves to {marker}, outside the dataset folder "
                              f"{os.path.realpath(root)}"]


def test_yolo_list_names_outside_are_problems_and_path_roots_are_printed(tmp_path, truth):
    root = dataset(tmp_path, "yolo", truth)
    marker = outside_marker(tmp_path)
    listed = [f"images/train/t00{i}.png" for i in range(4)] + ["../outside/marker.png",
                                                               "/etc/passwd"]
    (root / "train.txt").write_text("\n".join(listed) + "\n")
    text = (root / "data.yaml").read_text().replace("train: images/train", "train: train.txt")
    (root / "data.yaml").write_text(text)
    ann = read_annotated(str(root))
    assert [p.what for p in ann.problems] == [
        f"resolves to {marker}, outside the dataset folder {os.path.realpath(root)}",
        f"resolves to /etc/passwd, outside the dataset folder {os.path.realpath(root)}"]
    assert len(ann.splits["train"]) == 4
    # A root data.yaml names with path: is allowed, and kspec data says so.
    (root / "data.yaml").write_text(text.replace("path: .", f"path: {tmp_path}").replace(
        "train: train.txt", "train: yolo/train.txt").replace("images/val", "yolo/images/val"))
    ann = read_annotated(str(root))
    assert [str(p) for p in ann.problems] == [
        f"/etc/passwd: resolves to /etc/passwd, outside the dataset folder "
        f"{os.path.realpath(root)} or {tmp_path}"]
    assert len(ann.splits["train"]) == 5  # the marker, under path:, is part of it now
    assert describe(ann)["other_roots"] == [str(tmp_path)]
    assert table(describe(ann)).splitlines()[1] == (f"files also in {tmp_path} (named by "
                                                    "data.yaml path:)")


def test_a_yolo_split_outside_the_roots_is_exit_2(tmp_path, truth):
    root = dataset(tmp_path, "yolo", truth)
    outside_marker(tmp_path)
    path = root / "data.yaml"
    path.write_text(path.read_text().replace("train: images/train", "train: ../outside"))
    assert refused(root) == (f"{path}: train: '../outside' resolves to {tmp_path}/outside, "
                             f"outside the dataset folder {os.path.realpath(root)}; name a "
                             "folder under the dataset (or under path:)")


def test_kspec_data_on_names_pointing_outside(tmp_path, truth):
    """The real command: exit 0 with the escaping names listed as problems; the marker
    outside is never opened; training on it would refuse (2 of 5 examples)."""
    root = dataset(tmp_path, "coco", truth)
    marker = outside_marker(tmp_path)
    edit_coco(root, lambda doc: [doc["images"][0].update(file_name="../../outside/marker.png"),
                                 doc["images"][1].update(file_name="/etc/passwd")])
    res = subprocess.run([sys.executable, str(ROOT / "kspec_cli.py"), "data", str(root)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert "problems      2" in lines
    assert f"  {marker}: resolves to {marker}, outside the dataset folder " \
           f"{os.path.realpath(root)}" in lines
    assert "  /etc/passwd: resolves to /etc/passwd, outside the dataset folder " \
           f"{os.path.realpath(root)}" in lines
    assert "17x13" not in res.stdout  # the marker's size: it was never read
    if read_moves_atime(tmp_path):
        assert os.stat(marker).st_atime == 1_000_000_000
    with pytest.raises(DataError, match=r"problems in 2 of 5 examples \(40.0%, over 1%\)"):
        load_source(str(root))


def test_a_class_folder_image_pointing_outside_is_skipped(tmp_path):
    from tasks.data.folder import load_folder
    marker = outside_marker(tmp_path)
    for cls in ("a", "b"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for i in range(60):
            Image.new("RGB", (8, 8), (i, 0, 0)).save(tmp_path / "data" / cls / f"{i}.png")
    link = tmp_path / "data" / "a" / "0.png"
    link.unlink()
    link.symlink_to(marker)
    source = load_folder(str(tmp_path / "data"))
    assert sum(source.sizes.values()) == 119
    (note,) = source.notes
    assert note == (f"skipped 1 unreadable image(s) of 120 in {tmp_path}/data: {link}: resolves "
                    f"to {marker}, outside the dataset folder {tmp_path}/data")


def test_screened_coco_with_one_problem_in_many_is_a_note(tmp_path):
    many = examples(train=110, validation=2, size=16, seed=5)
    root = tmp_path / "coco"
    WRITERS["coco"](str(root), many)
    edit_coco(root, lambda d: d["images"][5].update(file_name="/etc/hostname"))
    ann = screened(read_annotated(str(root)))
    assert ann.notes[0].startswith("skipped 1 of 112 examples with problems: /etc/hostname: "
                                   "resolves to /etc/hostname, outside the dataset folder")


def test_names_from_the_data_never_act_on_a_terminal(tmp_path, capsys):
    """Class folders named with a terminal escape and a newline: `kspec data` shows them
    escaped (one line each, no live escape), and so does a problem naming such a file."""
    import argparse

    from tasks.data_command import cmd_data
    root = tmp_path / "cls"
    for name in ("cat\x1b[31mRED\x1b]0;pwned\x07", "dog\nfake line: OK", "ok"):
        (root / name).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(root / name / f"{i}.png")
    assert cmd_data(argparse.Namespace(path=str(root), json=False, grid=8)) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "fake line" not in out.split("\n")[0]
    assert "cat\\x1b[31mRED\\x1b]0;pwned\\x07" in out and "dog\\nfake line: OK" in out
    (root / "ok" / "bad\x1b[31mEVIL\nnext.png").write_bytes(b"II*\0junk")
    (root / "ok" / "worse\x1b[2J.png").write_bytes(b"II*\0junk")
    with pytest.raises(DataError) as refusal:
        load_source(str(root))
    assert "\x1b" not in str(refusal.value)
