"""Hostile dataset folders for the tests: small COCO, VOC and YOLO folders to spoil, and a
marker file outside them whose access time tells whether it was read."""
import json
import os

import pytest
from PIL import Image

from tasks.data.annotations import read_annotated
from tasks.data.sources import DataError
from tests.tasks.annotated_writers import WRITERS, examples


@pytest.fixture(scope="module")
def truth():
    return examples(train=4, validation=1, size=32, seed=7)


def dataset(tmp_path, fmt, truth):
    root = tmp_path / fmt
    WRITERS[fmt](str(root), truth)
    return root


def problems(root):
    return [str(p) for p in read_annotated(str(root)).problems]


def refused(root) -> str:
    with pytest.raises(DataError) as info:
        read_annotated(str(root))
    return str(info.value)


def coco_file(root):
    return root / "annotations" / "instances_train2017.json"


def edit_coco(root, change):
    path = coco_file(root)
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return path


def outside_marker(tmp_path):
    """An image outside the dataset folder, its access time set far back: reading it
    would move the access time (relatime updates an access time older than a day)."""
    marker = tmp_path / "outside" / "marker.png"
    marker.parent.mkdir(exist_ok=True)
    Image.new("RGB", (17, 13), (255, 0, 0)).save(marker)
    os.utime(marker, (1_000_000_000, os.stat(marker).st_mtime))
    return marker


def read_moves_atime(tmp_path) -> bool:
    """Whether this file system records reads at all (a noatime mount does not)."""
    probe = tmp_path / "probe"
    probe.write_bytes(b"x")
    os.utime(probe, (1_000_000_000, os.stat(probe).st_mtime))
    probe.read_bytes()
    return os.stat(probe).st_atime > 1_000_000_000
