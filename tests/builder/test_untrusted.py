"""builder/untrusted.py: the one reader of files kspec did not write."""
import json
import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.untrusted import (UntrustedFileError, contained, inside, parse_json, read_bytes,
                               read_text)


def test_a_fifo_fails_at_once_instead_of_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    done = []
    reader = threading.Thread(target=lambda: done.append(_error(read_bytes, str(fifo), 100)))
    reader.start()
    reader.join(timeout=10)
    assert done == [f"{fifo}: is not a regular file (a pipe, socket or device); expected a "
                    "file"]


def _error(fn, *args):
    try:
        fn(*args)
    except UntrustedFileError as exc:
        return str(exc)
    return None


def test_folders_devices_missing_and_oversized_files_are_refused(tmp_path):
    big = tmp_path / "big"
    with open(big, "wb") as fh:
        fh.truncate(5 << 30)  # sparse: nothing is allocated by the test itself
    assert _error(read_bytes, str(tmp_path), 10, "spec") == f"{tmp_path}: is a folder; " \
        "expected a spec"
    assert _error(read_bytes, "/dev/zero", 10, "spec").endswith("is not a regular file (a "
                                                                "pipe, socket or device); "
                                                                "expected a spec")
    assert _error(read_bytes, str(tmp_path / "no"), 10) == f"{tmp_path / 'no'}: no such file"
    assert _error(read_bytes, str(big), 1 << 20, "run.json") == (
        f"{big}: the run.json is 5120.0 MB, over the 1.0 MB kspec reads for it")
    (tmp_path / "ok").write_bytes(b"x" * 10)
    assert read_bytes(str(tmp_path / "ok"), 10) == b"x" * 10
    assert _error(read_bytes, str(tmp_path / "ok"), 9).endswith("is 10 bytes, over the 9 "
                                                                "bytes kspec reads for it")


def test_text_must_be_utf8_and_the_error_says_where(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_bytes(b"\xef\xbb\xbfcat\ndog\n\xe9l\xe9phant\n")
    assert _error(read_text, str(path), 100, "class list") == (
        f"{path}:3:1: the class list is not UTF-8 text (byte 0xe9); save it as UTF-8")
    path.write_bytes(b"\xef\xbb\xbfcat\ndog\n")
    assert read_text(str(path), 100) == "cat\ndog\n"  # the BOM is dropped


@pytest.mark.parametrize("text, said", [
    ("[" * 100_000 + "]" * 100_000, "not valid JSON (nested too deeply)"),
    ('{"height": NaN}', "not valid JSON (NaN is not a JSON number)"),
    ('{"height": -Infinity}', "not valid JSON (-Infinity is not a JSON number)"),
    ('{"id": %s}' % ("7" * 5000), "not valid JSON (a number of 5000 digits)"),
    ('{"id": %s}' % ("7" * 400), "not valid JSON (a number of 400 digits)"),
    ("[1e400]", "not valid JSON (1e400 is out of range)"),
    ('{"a": 1,\n "b": }', "f.json:2:7: not valid JSON (Expecting value)"),
])
def test_json_that_is_not_strict_is_refused(text, said):
    assert _error(parse_json, text, "f.json").endswith(said)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from('[]{}":,0123456789-.eE tfnrulasNIiy\\\n'), max_size=80)
       | st.text(max_size=40))
def test_any_text_is_a_value_or_a_refusal(text):
    try:
        value = parse_json(text, "f.json")
    except UntrustedFileError as exc:
        assert str(exc).startswith("f.json")
    else:
        assert json.loads(json.dumps(value)) == value  # finite, plain JSON


def test_paths_stay_inside_their_root_after_symlinks(tmp_path):
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "images" / "a.png").write_bytes(b"")
    os.symlink("/etc/passwd", root / "images" / "link.png")
    os.symlink(root / "images" / "a.png", root / "images" / "inner.png")
    os.symlink(tmp_path, root / "up")
    assert contained(str(root), "images/a.png") == str(root / "images" / "a.png")
    assert contained(str(root), "images/inner.png") == str(root / "images" / "inner.png")
    for name in ("images/link.png", "../x.png", "/etc/passwd", "up/data/../secret",
                 "images/../../x"):
        assert _error(contained, str(root), name) == (
            f"{name} resolves outside the dataset folder {root}"), name
    assert _error(contained, str(root), "") == "'' is not a file name"
    assert _error(contained, str(root), None) == "None is not a file name"
    assert _error(contained, str(root), "a\0b") == "'a\\x00b' is not a file name"
    assert not inside(str(tmp_path / "datax"), [str(root)])  # a sibling sharing a prefix
    assert contained(str(root), "/x/y", roots=[str(root), "/x"]) == "/x/y"


def test_an_output_folder_is_made_or_refused(tmp_path):
    from builder.untrusted import output_folder
    assert output_folder(str(tmp_path / "a" / "b"), "--draw") == str(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    (tmp_path / "f").write_text("mine")
    assert _error(output_folder, str(tmp_path / "f"), "--draw") == (
        f"--draw {tmp_path / 'f'} is a file, not a folder; name a folder for the files")
    assert _error(output_folder, "/", "--masks") == ("--masks / is the file-system root; "
                                                     "name a folder for the files")
    assert (tmp_path / "f").read_text() == "mine"


def test_a_file_written_where_a_link_stands_replaces_the_link_not_its_target(tmp_path):
    from builder.untrusted import replace_file
    target = tmp_path / "users_file.txt"
    target.write_text("precious")
    (tmp_path / "out").mkdir()
    os.symlink(target, tmp_path / "out" / "000_a.png")
    replace_file(str(tmp_path / "out" / "000_a.png"), b"\x89PNG...")
    assert target.read_text() == "precious"
    assert not os.path.islink(tmp_path / "out" / "000_a.png")
    assert (tmp_path / "out" / "000_a.png").read_bytes() == b"\x89PNG..."
    assert os.listdir(tmp_path / "out") == ["000_a.png"]  # no temporary left


def test_the_data_dir_option_refuses_a_file(tmp_path):
    import argparse

    from builder.untrusted import data_dir_option
    (tmp_path / "afile").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    for path in (tmp_path / "afile", tmp_path / "fifo"):
        with pytest.raises(argparse.ArgumentTypeError, match="is a file, not a folder"):
            data_dir_option(str(path))
    assert data_dir_option(str(tmp_path / "new")) == str(tmp_path / "new")
