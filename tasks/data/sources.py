"""Where examples come from: `--data NAME` resolved to canonical tf.data splits.

NAME is the built-in `shapes` (or `shapes/multi`, `shapes/single:image_size=96`),
the tiny built-in `xor`, a TFDS catalogue dataset (`mnist`, `cifar10`, `voc`, ...),
a folder in COCO, Pascal VOC or YOLO layout (`annotations.py`), or a folder of class
folders or images with masks (`folder.py`). Nothing is downloaded: a catalogue dataset must
already be prepared in the data directory.
"""
from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field

import tensorflow as tf

SPLITS = ("train", "validation", "test")


class DataError(Exception):
    """Bad or unavailable data; the message names the dataset, split and field.

    Its text quotes names from the data (files, classes), so what it shows a terminal is
    escaped: an escape sequence in a file name never acts on the screen."""

    def __str__(self) -> str:
        from builder.errors import printable
        return printable(super().__str__(), keep="\n")


@dataclass
class Source:
    name: str
    splits: dict                       # split -> tf.data.Dataset of canonical dicts
    class_names: tuple = ()
    image_shape: tuple | None = None   # (H, W, C) when all images share it
    mask_classes: int = 0
    sizes: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)  # what was skipped or converted while reading
    records: dict | None = None  # split -> annotation records (COCO, VOC, YOLO folders)

    def __post_init__(self):
        # Class names come from folder names and annotation files: kept printable, so no
        # name can act on a terminal or forge a line wherever it is shown or written.
        from builder.errors import printable
        self.class_names = tuple(printable(list(self.class_names)))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def default_data_dir() -> str:
    return os.environ.get("TFDS_DATA_DIR", os.path.join(os.path.expanduser("~"),
                                                        "tensorflow_datasets"))


def load_source(name: str, data_dir: str | None = None) -> Source:
    if name == "xor":
        return _xor()
    if os.path.isdir(name):
        from .annotations import detect, load_annotated
        if detect(name):
            return load_annotated(name)
        from .folder import load_folder
        return load_folder(name)
    if name.startswith((os.sep, ".", "~")):  # a path, not a dataset name like cifar10/3.0.2
        raise DataError(f"--data {name}: no such folder")
    return _tfds(name, data_dir or default_data_dir())


def _xor() -> Source:
    x = tf.constant([[0, 0], [0, 1], [1, 0], [1, 1]], tf.float32)
    y = tf.constant([0, 1, 1, 0], tf.int64)
    ds = tf.data.Dataset.from_tensor_slices({"features": x, "label": y})
    return Source("xor", {s: ds for s in SPLITS}, ("false", "true"), None,
                  sizes={s: 4 for s in SPLITS})


def _tfds(name: str, data_dir: str) -> Source:
    import tensorflow_datasets as tfds

    from . import shapes as shapes_module

    base, _, config = name.partition("/")
    kwargs = {}
    if base == "shapes":
        try:
            parsed = shapes_module.parse_config(config or "single")
        except ValueError as exc:
            raise DataError(f"--data {name}: {exc}") from None
        kwargs = {"config": parsed}
        tfds_name = "shapes"
    else:
        # `cifar10/3.0.2` names a version as TFDS writes it on disk; TFDS reads `cifar10:3.0.2`.
        tfds_name = re.sub(r"/(\d+\.\d+\.\d+)$", r":\1", name)
    try:
        builder = tfds.builder(tfds_name, data_dir=data_dir, **kwargs)
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(f"--data {name}: not a built-in dataset, a TFDS dataset or a folder "
                        "(built-in: shapes, shapes/multi, xor)") from None
    except (ValueError, AssertionError) as exc:  # an unknown config or version
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"--data {name}: {first[:300]}") from None
    if not _is_prepared(builder):
        if base != "shapes":
            raise DataError(
                f"--data {name}: the dataset is not prepared in {data_dir}, and this machine "
                "cannot download it. On a machine with network run\n"
                f"    tfds build {tfds_name} --data_dir DIR\n"
                "then copy DIR here and pass --data-dir DIR (or set TFDS_DATA_DIR).")
        with _generation_lock(data_dir):
            # Another process may have drawn it while this one waited: look again.
            builder = tfds.builder(tfds_name, data_dir=data_dir, **kwargs)
            if not _is_prepared(builder):
                _draw(builder, name, data_dir)
    return from_builder(name, builder)


def _draw(builder, name: str, data_dir: str) -> None:
    """Draws the built-in set (no network), with one line of ours instead of TFDS' own
    "Downloading and preparing" lines and progress bars (they go to the log)."""
    import io
    import logging
    import sys

    import tensorflow_datasets as tfds
    print(f"{name}: drawing the dataset into {data_dir} (once; later runs reuse it)",
          file=sys.stderr, flush=True)
    tfds.disable_progress_bar()
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        builder.download_and_prepare()
    if said.getvalue().strip():
        logging.getLogger("tfds").info(said.getvalue().strip())


@contextlib.contextmanager
def _generation_lock(data_dir: str):
    """One process at a time draws the built-in set into a data directory.

    TFDS writes into a temporary folder and renames it into place, so two workers
    generating into one fresh directory would race on that rename; the lock makes the
    later ones wait and then reuse what the first wrote.
    """
    import fcntl
    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(data_dir, ".kspec-shapes.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def from_builder(name: str, builder) -> Source:
    """Canonical splits of a prepared TFDS builder (also used with tfds.testing.mock_data)."""
    from .catalog import adapter_for
    adapter = adapter_for(name, builder.info)
    splits, sizes = {}, {}
    for split, expr in adapter.splits.items():
        ds = builder.as_dataset(split=expr, shuffle_files=False)
        splits[split] = ds.map(adapter.to_canonical, num_parallel_calls=tf.data.AUTOTUNE)
        try:
            sizes[split] = int(builder.info.splits[expr].num_examples)
        except KeyError:  # no split metadata (a mocked builder): count once
            sizes[split] = int(ds.reduce(0, lambda count, _: count + 1))
    features = builder.info.features
    names = tuple(features["label"].names) if "label" in features else ()
    if not names and "objects" in features:
        names = tuple(features["objects"]["label"].names)
    shape = tuple(features["image"].shape)
    return Source(name, splits, names, shape if None not in shape else None,
                  adapter.mask_classes, sizes)


def _is_prepared(builder) -> bool:
    try:
        return builder.is_prepared()
    except AttributeError:  # older TFDS
        return tf.io.gfile.exists(os.path.join(builder.data_dir, "dataset_info.json"))
