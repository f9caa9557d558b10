"""Folder datasets with corrupt, empty, truncated and non-image files: each bad file is
named (the first 10, then a count); under 1% they are skipped with a note, above, exit 2."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tasks.data import DataError, load_source
from tests.conftest import ROOT


def _good(path, rng):
    Image.fromarray(rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)).save(path)


def _spoil(path, how):
    if how == "empty":
        path.write_bytes(b"")
    elif how == "text":
        path.write_text("not an image")
    else:  # truncated: the first half of a real PNG
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


def _class_folder(root, per_class, spoiled):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            _good(root / cls / f"{i:03d}.png", rng)
    for i, how in enumerate(spoiled):
        _spoil(root / "cat" / f"{i:03d}.png", how)
    return root


def test_a_few_bad_files_are_skipped_with_a_note_naming_them(tmp_path):
    root = _class_folder(tmp_path / "data", 200, ["truncated"])
    source = load_source(str(root))
    assert sum(source.sizes.values()) == 399
    (note,) = source.notes
    assert note == (f"skipped 1 unreadable image(s) of 400 in {root}: {root}/cat/000.png: "
                    "Truncated File Read")
    # Every remaining image decodes: a full pass over the data raises nothing.
    assert sum(1 for split in source.splits.values() for _ in split) == 399


def test_many_bad_files_stop_with_the_first_ten_named(tmp_path):
    root = _class_folder(tmp_path / "data", 50, ["empty", "text", "truncated"] * 4)
    with pytest.raises(DataError) as info:
        load_source(str(root))
    text = str(info.value)
    assert text.startswith(f"folder {root}: 12 of 100 images cannot be read (12.0%, over 1%): ")
    assert f"{root}/cat/000.png: empty file; {root}/cat/001.png: cannot identify image file" \
        in text
    assert text.endswith(" and 2 more")
    assert text.count(".png:") == 10


def test_a_bad_mask_is_named_too(tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for i in range(20):
        _good(tmp_path / "images" / f"{i}.png", rng)
        Image.fromarray(np.zeros((12, 10), np.uint8)).save(tmp_path / "masks" / f"{i}.png")
    _spoil(tmp_path / "masks" / "7.png", "text")
    with pytest.raises(DataError, match=r"1 of 40 images cannot be read .*masks/7.png"):
        load_source(str(tmp_path))


def test_training_on_a_broken_folder_exits_2_with_the_files(tmp_path):
    root = _class_folder(tmp_path / "data", 20, ["text", "empty"])
    res = subprocess.run([sys.executable, str(ROOT / "train.py"), str(ROOT / "specs/lenet5.yaml"),
                          "--data", str(root), "--out", str(tmp_path / "run")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert f"kspec train: folder {root}: 2 of 40 images cannot be read" in res.stderr
