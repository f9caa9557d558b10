"""Hostile inputs to `kspec predict` / `embed` / `evaluate`: .npy headers that declare more
than the file holds, objects, NaN samples, images that are no images or declare too many
pixels, numeric options out of range, and `embed --out` naming a folder or another file.
Each is exit 2 (or a ValueError in-process) with a message; a hypothesis fuzz mutates
real .npy and PNG files."""
import io
import os
import struct
import sys
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT, run
from tests.rundir.test_weights_files import EDITS, Bases, mutate
from trainer.inputs import MAX_PIXELS, embed_target, read_inputs, read_npy

MLP = ("name: mlp\ninput: {shape: [2]}\nlayers: [dense: {units: 4, activation: tanh}]\n"
       "head: {task: classification, classes: 1, activation: sigmoid, "
       "loss: binary_cross_entropy}\ntrain: {epochs: 1, batch_size: 4}\n")


def npy_header(shape, descr="<f4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue()


def value_error(fn, *args) -> str:
    with pytest.raises(ValueError) as info:
        fn(*args)
    return str(info.value)


def test_a_193_byte_npy_declaring_10_8_samples_is_refused_before_allocation(tmp_path):
    path = tmp_path / "x.npy"
    path.write_bytes(npy_header((10**8, 2)) + bytes(65))
    assert path.stat().st_size == 193
    assert value_error(read_npy, str(path)) == (
        f"{path}: the .npy header declares shape (100000000, 2) of float32 (762.9 MB) but "
        "the file holds 65 bytes after it; the file is damaged or cut short")


@pytest.mark.parametrize("header, message", [
    (npy_header((2,), "|O"), "a .npy file that cannot be read as numbers (it holds object "
                             "values); save an array of numbers"),
    (npy_header((2,), [("a", "<f4")]), "a .npy file that cannot be read as numbers (it holds "
                                      "[('a', '<f4')] values)"),
    (npy_header((2,), "<U3"), "a .npy file that cannot be read as numbers (it holds <U3"),
    (b"\x93NUMPY\x03\x00" + bytes(8), "a .npy file whose header cannot be read (format "
                                      "version 3.0, not 1.0 or 2.0)"),
    (b"\x93NUMPY\x01\x00\x10\x00{'descr': os.sy", "a .npy file whose header cannot be read"),
])
def test_npy_files_that_hold_no_numbers_are_refused(tmp_path, header, message):
    path = tmp_path / "x.npy"
    path.write_bytes(header + bytes(8))
    assert value_error(read_npy, str(path)).startswith(f"{path}: {message}")


def test_a_fortran_order_npy_reads_as_numpy_does(tmp_path):
    path = tmp_path / "f.npy"
    np.save(path, np.asfortranarray(np.arange(12, dtype="i2").reshape(3, 4)))
    np.testing.assert_array_equal(read_npy(str(path)), np.load(path))


def test_nan_and_infinite_samples_are_named(tmp_path):
    path = tmp_path / "nan.npy"
    np.save(path, np.array([[0, 1], [1, 0], [np.nan, 2], [np.inf, 0]], "f4"))
    assert value_error(read_inputs, [str(path)], {"shape": [2]}) == (
        f"{path}[2]: holds NaN or infinite values (or values beyond float32's range); 2 "
        "sample(s) of 4 do; give finite numbers")
    big = tmp_path / "big.npy"  # finite as float64, infinite as the float32 the model takes
    np.save(big, np.array([[1e300, 0]]))
    assert value_error(read_inputs, [str(big)], {"shape": [2]}).startswith(f"{big}[0]: holds")


def png(width, height, pixels=None) -> bytes:
    """A real grey PNG; `pixels` None writes a tiny IDAT that cannot fill the image."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    raw = pixels if pixels is not None else b"\x00"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0,
                                                               0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_images_are_checked_before_decoding(tmp_path):
    shape = {"shape": [8, 8, 1]}
    huge = tmp_path / "huge.png"
    huge.write_bytes(png(9000, 9000))  # 81 megapixels declared in 70 bytes
    assert value_error(read_inputs, [str(huge)], shape) == (
        f"{huge}: the image is 9000x9000 pixels, over the {MAX_PIXELS:,} kspec decodes; "
        "resize it first")
    huge.write_bytes(png(60000, 60000))  # over Pillow's own bound too
    assert value_error(read_inputs, [str(huge)], shape) == (
        f"{huge}: the image declares over 178,956,970 pixels, over the {MAX_PIXELS:,} kspec "
        "decodes; resize it first")
    text = tmp_path / "notes.png"
    text.write_bytes(b"hello, not a picture")
    assert value_error(read_inputs, [str(text)], shape) == (
        f"{text}: not a readable image (its first bytes b'hello, n' are those of no PNG, "
        "JPEG, GIF or BMP file)")
    folder = tmp_path / "dir.png"
    folder.mkdir()
    assert value_error(read_inputs, [str(folder)], shape) == (
        f"{folder}: is a folder; expected a image")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert value_error(read_inputs, [str(fifo)], shape).startswith(
        f"{fifo}: is not a regular file")
    good = tmp_path / "good.png"
    good.write_bytes(png(4, 4, b"".join(b"\x00" + bytes([i * 16] * 4) for i in range(4))))
    names, x = read_inputs([str(good)], shape)
    assert names == [str(good)] and x.shape == (1, 8, 8, 1)


@pytest.mark.parametrize("out, message", [
    ("/", "--out /: is a folder; name the .npy file to write (for example /features.npy)"),
    ("{tmp}", "--out {tmp}: is a folder; name the .npy file to write (for example "
              "{tmp}/features.npy)"),
    ("{tmp}/notes.txt", "--out {tmp}/notes.txt: an existing file that is not a .npy; name a "
                        ".npy file to write"),
    ("{tmp}/missing/f.npy", "--out {tmp}/missing/f.npy: the folder {tmp}/missing does not "
                            "exist; create it first"),
])
def test_embed_out_must_name_a_npy_file(tmp_path, out, message):
    (tmp_path / "notes.txt").write_text("keep")
    assert value_error(embed_target, out.format(tmp=tmp_path)) == message.format(tmp=tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep"


def test_embed_out_adds_npy_only_when_left_out(tmp_path):
    assert embed_target(str(tmp_path / "feats")) == str(tmp_path / "feats.npy")
    assert embed_target(str(tmp_path / "feats.npy")) == str(tmp_path / "feats.npy")


# -- the real commands ------------------------------------------------------------------------
def kspec(*args):
    """The CLI of this checkout (by path, so that its code is the one tested)."""
    return run([sys.executable, str(ROOT / "kspec_cli.py"), *args])


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("xor")
    spec = out / "mlp.yaml"
    spec.write_text(MLP)
    res = run([sys.executable, str(ROOT / "train.py"), str(spec), "--data", "xor", "--out",
               str(out / "run"), "--no-xla", "--quiet"])
    assert res.returncode == 0, res.stderr
    return out / "run"


def test_predict_with_nan_is_exit_2_naming_the_sample(xor_run, tmp_path):
    path = tmp_path / "nan.npy"
    np.save(path, np.array([[0, 1], [np.nan, 0]], "f4"))
    res = kspec("predict", str(xor_run), str(path))
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip().splitlines()[-1] == (
        f"kspec predict: {path}[1]: holds NaN or infinite values (or values beyond float32's "
        "range); 1 sample(s) of 2 do; give finite numbers")


@pytest.mark.parametrize("value", ["0", "-3", "100000"])
def test_evaluate_batch_size_out_of_range_is_exit_2(xor_run, value):
    res = kspec("evaluate", str(xor_run), "--batch-size", value)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert (f"argument --batch-size: invalid batch size (an integer from 1 to 65,536) value: "
            f"'{value}'") in res.stderr


def test_embed_writes_the_file_it_names(xor_run, tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.array([[0, 1], [1, 1]], "f4"))
    res = kspec("embed", str(xor_run), str(x), "--layer", "dense0", "--out",
                str(tmp_path / "feats"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"{tmp_path / 'feats.npy'}: (2, 4) features from layer")
    assert np.load(tmp_path / "feats.npy").shape == (2, 4)
    old = tmp_path / "old.npy"
    np.save(old, np.zeros(3))
    res = kspec("embed", str(xor_run), str(x), "--layer", "dense0", "--out", str(old))
    assert res.returncode == 0 and np.load(old).shape == (2, 4)
    assert sorted(os.listdir(tmp_path)) == ["feats.npy", "old.npy", "x.npy"]  # no temporaries
    res = kspec("embed", str(xor_run), str(x), "--layer", "dense0", "--out", "/")
    assert res.returncode == 2 and not os.path.exists("/.npy")
    assert res.stderr.strip() == ("kspec embed: --out /: is a folder; name the .npy file to "
                                  "write (for example /features.npy)")


# -- fuzz -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def inputs():
    buf = io.BytesIO()
    np.save(buf, np.arange(8, dtype="f4").reshape(4, 2))
    return Bases(npy=buf.getvalue(),
                 png=png(4, 4, b"".join(b"\x00" + bytes([i * 16] * 4) for i in range(4))))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["npy", "png"]), edits=EDITS, cut=st.none() | st.integers(0, 200))
@example(kind="npy", edits=[(40, ord("9"))], cut=None)  # a shape digit edited in the header
@example(kind="png", edits=[(18, 0x7f)], cut=None)  # the declared width
def test_damaged_inputs_end_in_arrays_or_a_message(tmp_path, inputs, kind, edits, cut):
    path = tmp_path / f"x.{kind}"
    path.write_bytes(mutate(inputs[kind], edits, cut))
    shape = {"shape": [2] if kind == "npy" else [4, 4, 1]}
    try:
        names, x = read_inputs([str(path)], shape)
    except ValueError as exc:
        assert str(exc).startswith(str(path)) and len(str(exc)) > len(str(path)) + 16
        return
    assert len(names) == len(x) and np.isfinite(x).all()


def test_a_gif_of_many_frames_counts_every_frame(tmp_path):
    """TensorFlow decodes every frame of a GIF before it keeps the first."""
    from PIL import Image
    path = tmp_path / "many.gif"
    frames = [Image.new("L", (2048, 2048), i) for i in range(17)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert path.stat().st_size < 2 * 1024 * 1024
    assert value_error(read_inputs, [str(path)], {"shape": [8, 8, 1]}) == (
        f"{path}: the image is 17 frames of 2048x2048 pixels, over the {MAX_PIXELS:,} kspec "
        "decodes; resize it first")
