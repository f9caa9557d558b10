"""Hostile weights files, built for real with h5py and zipfile: each is refused by
`checked_copy` with a message before any array is read, the marker file they point at is
never read, and damaged files (hypothesis: truncations, byte flips) end in a clean error
or in arrays of the file itself."""
import os
import struct
import zipfile

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rundir.weights_files import H5_ERRORS, RESAVE, WeightsFileError, checked_copy

MARKER = b"MARKER-outside-the-sandbox-0123456789"


@pytest.fixture(scope="module")
def marker(tmp_path_factory):
    """A file outside every folder a test names as its input: it must never be read."""
    path = tmp_path_factory.mktemp("outside") / "secret.txt"
    path.write_bytes(MARKER)
    return str(path)


def h5(path, build):
    with h5py.File(path, "w") as f:
        build(f)
    return str(path)


def real_weights(f):
    """The layout Keras 3 writes for a small model (`layers/NAME/vars/N`)."""
    f.create_dataset("layers/conv2d/vars/0", data=np.arange(54, dtype="f4").reshape(3, 3, 1, 6))
    f.create_dataset("layers/conv2d/vars/1", data=np.zeros(6, "f4"))
    f.create_dataset("layers/dense/vars/0", data=np.ones((6, 2), "f4"), compression="gzip",
                     chunks=(3, 2))


def refused(path) -> str:
    with pytest.raises(WeightsFileError) as info:
        with checked_copy(str(path)):
            pass
    return str(info.value)


def test_a_real_file_passes_and_the_copy_holds_the_same_bytes(tmp_path):
    path = h5(tmp_path / "ok.weights.h5", real_weights)
    with checked_copy(path) as copy:
        assert copy.endswith("source.weights.h5") and copy != path
        with open(copy, "rb") as a, open(path, "rb") as b:
            assert a.read() == b.read()
    assert not os.path.exists(copy)  # the private copy is gone afterwards


def test_external_storage_is_refused_and_the_marker_is_never_read(tmp_path, marker):
    path = h5(tmp_path / "ext.weights.h5", lambda f: f.create_dataset(
        "layers/conv2d/vars/0", shape=(len(MARKER),), dtype="u1",
        external=[(marker, 0, len(MARKER))]))
    with h5py.File(path) as f:  # the file really reads the marker when trusted
        assert bytes(f["layers/conv2d/vars/0"][()]) == MARKER
    assert refused(path) == (f"{path}: dataset /layers/conv2d/vars/0 keeps its data in "
                             f"another file ({marker}; HDF5 external storage); {RESAVE}")


def test_a_virtual_dataset_is_refused(tmp_path, marker):
    source = h5(tmp_path.parent / "vsource.h5", lambda f: f.create_dataset(
        "d", data=np.frombuffer(MARKER, "u1")))

    def build(f):
        layout = h5py.VirtualLayout(shape=(len(MARKER),), dtype="u1")
        layout[:] = h5py.VirtualSource(source, "d", shape=(len(MARKER),))
        f.create_virtual_dataset("layers/conv2d/vars/0", layout)
    path = h5(tmp_path / "vds.weights.h5", build)
    assert refused(path) == (f"{path}: dataset /layers/conv2d/vars/0 is a virtual dataset "
                             f"(its data lives in other files); {RESAVE}")


def test_a_small_file_declaring_a_trillion_elements_is_refused(tmp_path):
    """Chunked storage with no chunk written: HDF5 would hand out 4 TB of fill values."""
    path = h5(tmp_path / "big.weights.h5", lambda f: f.create_dataset(
        "layers/dense/vars/0", shape=(10**12,), dtype="f4", chunks=(1024,)))
    assert os.path.getsize(path) < 8000
    assert refused(path) == (f"{path}: dataset /layers/dense/vars/0 declares 3.6 TB (shape "
                             "(1000000000000,), float32) but the file stores 0 bytes of it; "
                             f"the file is damaged or not one Keras wrote: {RESAVE}")


@pytest.mark.parametrize("kind, message", [
    ("external link", "/layers/conv2d is a ExternalLink to {marker}:/x; kspec reads weights "
                      "only from the file itself"),
    ("soft link", "/layers/alias is a SoftLink; kspec reads weights only from the file itself"),
    ("strings", "dataset /layers/conv2d/vars/0 holds |S5 values, not numbers"),
    ("compound", "dataset /layers/conv2d/vars/0 holds [('a', '<i4'), ('b', '<f8')] values, "
                 "not numbers"),
    ("references", "dataset /layers/conv2d/vars/0 holds object values, not numbers"),
])
def test_links_out_and_non_numbers_are_refused(tmp_path, marker, kind, message):
    def build(f):
        if kind == "external link":
            f["layers/conv2d"] = h5py.ExternalLink(marker, "/x")
        elif kind == "soft link":
            f.create_dataset("layers/dense/vars/0", data=np.ones(2, "f4"))
            f["layers/alias"] = h5py.SoftLink("/layers/dense")
        elif kind == "strings":
            f["layers/conv2d/vars/0"] = np.array([b"hello"])
        elif kind == "compound":
            f["layers/conv2d/vars/0"] = np.zeros(2, [("a", "<i4"), ("b", "<f8")])
        else:
            f.create_dataset("layers/conv2d/vars/0", shape=(1,), dtype=h5py.ref_dtype)
    path = h5(tmp_path / "w.weights.h5", build)
    text = refused(path)
    assert text.startswith(f"{path}: {message.format(marker=marker)}"), text


def test_a_hard_link_cycle_is_refused(tmp_path):
    def build(f):
        f.create_group("layers/model")
        f["layers/model/layers"] = f["layers"]
    path = h5(tmp_path / "loop.weights.h5", build)
    assert refused(path) == (f"{path}: /layers/model/layers links back to an object already "
                             f"seen; {RESAVE}")


def test_a_truncated_file_is_refused(tmp_path):
    path = h5(tmp_path / "cut.weights.h5", lambda f: f.create_dataset(
        "layers/dense/vars/0", data=np.ones(100_000, "f4")))
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) // 2])
    assert refused(path).startswith(f"{path}: not a readable HDF5 weights file (")


def test_a_folder_or_a_fifo_is_refused_without_waiting(tmp_path):
    assert refused(tmp_path) == f"{tmp_path}: is a folder; expected a weights file"
    fifo = tmp_path / "pipe.weights.h5"
    os.mkfifo(fifo)
    assert refused(fifo) == (f"{fifo}: is not a regular file (a pipe, socket or device); "
                             "expected a weights file")


# -- .keras ---------------------------------------------------------------------------------
def keras_zip(path, weights_file=None, members=()):
    """A .keras archive as Keras writes it (stored members), with extra `members`."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", "{}")
        zf.writestr("config.json", "{}")
        if weights_file:
            zf.write(weights_file, "model.weights.h5")
        for name, data in members:
            zf.writestr(name, data)
    return str(path)


def declare_size(path, member: str, size: int):
    """Rewrites what the archive declares as `member`'s uncompressed size (local header and
    central directory), as a hostile writer would."""
    data = bytearray(open(path, "rb").read())
    name = member.encode()
    for sig, field in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := data.find(sig, start)) >= 0:
            name_len = struct.unpack_from("<H", data, at + (26 if sig == b"PK\x03\x04" else 28))[0]
            head = 30 if sig == b"PK\x03\x04" else 46
            if bytes(data[at + head:at + head + name_len]) == name:
                struct.pack_into("<I", data, at + field, size)
            start = at + 4
    open(path, "wb").write(bytes(data))


def test_a_keras_archive_declaring_4_gb_of_weights_is_refused(tmp_path):
    weights = h5(tmp_path / "w.h5", real_weights)
    path = keras_zip(tmp_path / "bomb.keras", weights)
    declare_size(path, "model.weights.h5", 0xFFFFFFF0)
    assert zipfile.ZipFile(path).getinfo("model.weights.h5").file_size == 0xFFFFFFF0
    stored = zipfile.ZipFile(path).getinfo("model.weights.h5").compress_size
    assert refused(path) == (f"{path}: model.weights.h5 in the archive declares 4.0 GB from "
                             f"{stored} bytes stored (over x100); the file is damaged or not "
                             f"one Keras wrote: {RESAVE}")


def test_a_keras_archive_with_an_oversized_config_is_refused(tmp_path):
    path = keras_zip(tmp_path / "config.keras")
    declare_size(path, "config.json", 100 * 1024 * 1024)
    assert refused(path) == (f"{path}: config.json in the archive declares 100.0 MB, over the "
                             "64.0 MB a model's description may take")


@pytest.mark.parametrize("name", ["../../escape.txt", "/etc/cron.d/x", "assets/../../x",
                                  "C:/windows/x", "a\\..\\..\\x"])
def test_a_keras_archive_naming_files_outside_itself_is_refused(tmp_path, name):
    path = keras_zip(tmp_path / "escape.keras", members=[(name, "x")])
    assert refused(path) == (f"{path}: the archive names a file {name!r} outside itself; "
                             f"{RESAVE}")


def test_the_weights_inside_a_keras_archive_get_the_hdf5_checks(tmp_path, marker):
    weights = h5(tmp_path / "ext.h5", lambda f: f.create_dataset(
        "layers/conv2d/vars/0", shape=(len(MARKER),), dtype="u1",
        external=[(marker, 0, len(MARKER))]))
    path = keras_zip(tmp_path / "ext.keras", weights)
    assert refused(path) == (f"{path} (model.weights.h5): dataset /layers/conv2d/vars/0 keeps "
                             f"its data in another file ({marker}; HDF5 external storage); "
                             f"{RESAVE}")


def test_a_file_that_is_no_zip_is_refused(tmp_path):
    path = tmp_path / "not.keras"
    path.write_bytes(b"PK\x03\x04 but nothing else")
    assert refused(path).startswith(f"{path}: not a readable .keras archive (")


# -- fuzz -------------------------------------------------------------------------------------
def mutate(data: bytes, edits, cut) -> bytes:
    out = bytearray(data[:cut] if cut is not None else data)
    for position, value in edits:
        if out:
            out[position % len(out)] = value
    return bytes(out)


EDITS = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=8)


def all_arrays(path) -> list:
    """Everything a reader would take from the checked copy (it turns H5_ERRORS into its
    message: a damaged chunk shows only when it is read)."""
    arrays, stack = [], []
    with h5py.File(path) as f:
        stack.append(f)
        while stack:
            for obj in stack.pop().values():
                if isinstance(obj, h5py.Dataset):
                    arrays.append(np.asarray(obj))
                else:
                    stack.append(obj)
    return arrays


class Bases(dict):
    """Files to mutate, by name; shown by name (hypothesis shows a failing example's
    arguments, and the bytes would fill the screen)."""

    def __repr__(self):
        return f"Bases({', '.join(self)})"


@pytest.fixture(scope="module")
def bases(tmp_path_factory, marker):
    folder = tmp_path_factory.mktemp("bases")
    ok = h5(folder / "ok.h5", real_weights)
    ext = h5(folder / "ext.h5", lambda f: (real_weights(f), f.create_dataset(
        "layers/extra/vars/0", shape=(len(MARKER),), dtype="u1",
        external=[(marker, 0, len(MARKER))])))
    return Bases(ok=open(ok, "rb").read(), external=open(ext, "rb").read(),
                 keras=open(keras_zip(folder / "m.keras", ext), "rb").read())


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=st.sampled_from(["ok", "external", "keras"]), edits=EDITS,
       cut=st.none() | st.integers(0, 12000))
@example(base="external", edits=[], cut=None)
@example(base="keras", edits=[], cut=None)
def test_damaged_weights_files_end_in_a_message_or_in_their_own_arrays(tmp_path, bases, base,
                                                                        edits, cut):
    path = str(tmp_path / ("f.keras" if base == "keras" else "f.weights.h5"))
    open(path, "wb").write(mutate(bases[base], edits, cut))
    try:
        with checked_copy(path) as copy:
            if base == "keras":  # the checks read the member whole: its CRC held
                with zipfile.ZipFile(copy) as zf:
                    zf.extract("model.weights.h5", tmp_path)
                copy = str(tmp_path / "model.weights.h5")
            arrays = all_arrays(copy)
    except WeightsFileError as exc:
        assert str(exc).startswith(f"{path}") and len(str(exc)) > len(path) + 10
        return
    except H5_ERRORS:
        return
    for a in arrays:
        assert MARKER not in a.tobytes()
