"""Hostile specs, as the spec loader and `kspec check`/`summary`/`draw` meet them.

Every input ends in a valid spec or in SpecErrors (exit 2, one printable line per mistake),
never another exception; a FIFO is never waited on; the values expressions make are
bounded; NaN and infinity are spec errors; a spec's name never becomes a path. Generated
documents and mutations of the zoo's specs (hypothesis), plus the named cases of the issue.
"""
import argparse
import contextlib
import io
import os
import resource
import shutil
import string
import subprocess
import sys
import threading

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from builder import SpecErrors, load_spec, load_spec_text
from builder.cli import cmd_check, cmd_draw, cmd_summary
from builder.expr import MAX_STRING_CHARS
from builder.names import MAX_STEM_CHARS, file_stem
from builder.spec import TOP_KEYS
from builder.yaml_loader import load_yaml_text
from rundir.layout import default_run_dir
from tests.conftest import ROOT, SPECS

MEMORY_CAP = 1 << 30  # 1 GiB of address space for one `kspec check`
FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SMALL = "kspec: 1\nname: t\ninput: {shape: [8, 8, 3]}\n"


def outcome(load):
    """The SpecErrors' lines, or [] for a valid spec; any other exception fails the test."""
    try:
        load()
    except SpecErrors as exc:
        lines = str(exc).splitlines()
        assert lines and all(line.isprintable() for line in lines), lines
        return lines
    return []


# -- generated documents ---------------------------------------------------------------------
HOSTILE_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["$a", "$a + $a", "$a * 1e999", "$in.channels", "$nope", "relu", "conv",
                     "../../x", "a\nb", "(" * 40 + "$a" + ")" * 40, "$a - $a", "1e400 if $b "
                     "else 1", "$s + $s + $s + $s", "keras.applications.VGG16"]))
KEYS = st.one_of(st.sampled_from(TOP_KEYS + ("conv", "dense", "repeat", "parallel", "residual",
                                             "layers", "args", "merge", "id", "from", "when",
                                             "filters", "units", "learning_rate", "l2", "shape",
                                             "b(s)", "b(s, t=1)")),
                 st.text(string.ascii_letters + "_()=,$", min_size=1, max_size=12))
VALUES = st.recursive(HOSTILE_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)), max_leaves=25)


ARGUMENTS = st.dictionaries(st.sampled_from(("filters", "units", "kernel", "strides", "rate",
                                             "id", "from", "l2", "activation", "padding",
                                             "when", "size")), HOSTILE_SCALARS, max_size=3)
# Mostly layers kspec knows, with arguments of any kind: far enough in to reach the checks.
LAYER_ITEMS = st.one_of(
    st.sampled_from(("relu", "flatten", "globalavgpool", "b", "nope")),
    st.builds(lambda kind, args: {kind: args},
              st.sampled_from(("conv", "dense", "dropout", "maxpool", "batchnorm", "b")),
              st.one_of(HOSTILE_SCALARS, ARGUMENTS)),
    st.builds(lambda n, body: {"repeat": n, "layers": body}, HOSTILE_SCALARS,
              st.lists(st.just("relu"), max_size=2)),
    VALUES)


@st.composite
def spec_documents(draw):
    doc = {"name": draw(st.one_of(st.just("t"), st.text(max_size=12))),
           "input": {"shape": draw(st.one_of(st.just([8, 8, 3]), VALUES))},
           "layers": draw(st.lists(LAYER_ITEMS, max_size=5))}
    if draw(st.booleans()):
        doc["blocks"] = {"b(s=1)": draw(st.lists(LAYER_ITEMS, max_size=3))}
    for key in draw(st.lists(st.sampled_from(("args", "blocks", "head", "train", "defaults",
                                              "init", "paper", "kspec")), max_size=3)):
        doc[key] = draw(VALUES)
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@FUZZ
@given(spec_documents())
@example("name: t\ninput: {shape: [4]}\nlayers: [dense: {units: 2, l2: .nan}]\n")
@example("name: t\ninput: {shape: [4]}\nargs: {s: x}\nlayers: [dense: {units: 2, id: "
         "'$s + $s'}]\n")
def test_generated_documents_give_a_spec_or_spec_errors(text):
    outcome(lambda: load_spec_text(text, "t.yaml"))


# -- mutations of the zoo's specs -------------------------------------------------------------
FRAGMENTS = ["$", "[", "]", "{", "}", ": ", "\n  - ", "\n", ".nan", ".inf", "-.inf", "1e999",
             "&a ", "*a", "!!python/object:os.system ", '"\\ud800"', "repeat: 9999999",
             "\t", "'", '"', "#", "$in.channels * $in.channels", "9" * 60, "extends: x.yaml\n",
             "- parallel: [[relu], [relu]]\n    merge: sum\n", "\x00", "\ufeff"]
ZOO = sorted(p.name for p in SPECS.glob("*.yaml"))


@pytest.fixture(scope="module")
def zoo_copy(tmp_path_factory):
    """The zoo in a folder of its own, so a mutated spec's `extends:` finds its base."""
    folder = tmp_path_factory.mktemp("zoo") / "specs"
    shutil.copytree(SPECS, folder)
    return folder


@FUZZ
@given(name=st.sampled_from(ZOO), at=st.floats(0, 1), cut=st.integers(0, 40),
       insert=st.lists(st.sampled_from(FRAGMENTS), max_size=3))
def test_mutated_zoo_specs_give_a_spec_or_exit_2(zoo_copy, name, at, cut, insert):
    text = (SPECS / name).read_text()
    pos = int(at * len(text))
    mutated = text[:pos] + "".join(insert) + text[pos + cut:]
    path = zoo_copy / "_mutated.yaml"
    path.write_text(mutated, encoding="utf-8", errors="surrogatepass")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cmd_check(argparse.Namespace(specs=[str(path)], set=[], plugin=[]))
    assert code in (0, 2)
    assert (code == 0) == (err.getvalue() == ""), err.getvalue()
    assert all(line.startswith(str(path)) for line in err.getvalue().splitlines())


# -- the expression bomb --------------------------------------------------------------------
def expression_bomb() -> str:
    """Six nested blocks, each passing 30 copies of its string to the next: 30**6 (729
    million) characters unbounded, in a spec of under 1 KB."""
    join = "+".join(["$s"] * 30)
    lines = ["name: bomb", "input: {shape: [4]}", "blocks:", "  b0(s): [dense: {units: 1, id: $s}]"]
    lines += [f'  b{k}(s): [b{k - 1}: "{join}"]' for k in range(1, 7)]
    return "\n".join(lines + ["layers: [b6: x]", ""])


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def test_the_expression_bomb_is_exit_2_in_bounded_memory_and_time(tmp_path):
    text = expression_bomb()
    assert len(text.encode()) < 1024
    (tmp_path / "bomb.yaml").write_text(text)
    res = subprocess.run([sys.executable, str(ROOT / "kspec_cli.py"), "check", "bomb.yaml"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=30,
                         preexec_fn=_limit_memory)
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr.startswith(
        "bomb.yaml:8:11: layers[0].b6/blocks.b6.layers[0].b5/blocks.b5.layers[0].b4/blocks.b4"
        ".layers[0].b3.s: a string of 1,800 characters, longer than 1,000, made by expression "
        "'$s+$s+$s+")
    assert "Traceback" not in res.stderr


def test_every_value_an_expression_makes_is_bounded():
    long = "x" * (MAX_STRING_CHARS // 2 + 1)
    lines = outcome(lambda: load_spec_text(
        SMALL + f"args: {{s: {long}}}\nlayers: [conv: {{filters: 4, id: $s + $s}}]\n", "t.yaml"))
    assert lines == ["t.yaml:5:33: layers[0].conv.id: a string of 1,002 characters, longer than "
                     "1,000, made by expression '$s + $s'"]
    assert outcome(lambda: load_spec_text(
        SMALL + "args: {a: 2}\nlayers: [conv: {filters: 1e400 if $a > 1 else 4}]\n", "t.yaml")) \
        == ["t.yaml:5:26: layers[0].conv.filters: number 1e400 is too large (over 1e+15) in "
            "expression '1e400 if $a > 1 else 4'"]


# -- NaN and infinity -----------------------------------------------------------------------
@pytest.mark.parametrize("text, line", [
    ("layers: [conv: 4]\ntrain: {optimizer: {adam: {learning_rate: .nan}}}\n",
     "t.yaml:5:43: train.optimizer.adam.learning_rate: expected a number, received nan: NaN "
     "and infinity are not values a spec can hold"),
    ("layers: [conv: {filters: 4, l2: .nan}]\n",
     "t.yaml:4:33: layers[0].conv.l2: expected a number, received nan: NaN and infinity are "
     "not values a spec can hold"),
    ("layers: [conv: 4]\ntrain: {weight_decay: -.inf}\n",
     "t.yaml:5:23: train.weight_decay: expected a number, received -inf: NaN and infinity are "
     "not values a spec can hold"),
    ("args: {a: 1e300}\nlayers: [conv: 4, dropout: $a * $a]\n",
     "t.yaml:5:19: layers[1].dropout.rate: the result is inf, not a finite number, in "
     "expression '$a * $a'"),
    ("args: {a: .nan}\nlayers: [conv: 4]\n",
     "t.yaml:4:11: args.a: expected a number, received nan: NaN and infinity are not values a "
     "spec can hold"),
    ("blocks:\n  b(x=.inf): [dropout: $x]\nlayers: [conv: 4, b]\n",
     "t.yaml:5:3: blocks.b.args.x: expected a number, received inf: NaN and infinity are not "
     "values a spec can hold"),
])
def test_nan_and_infinity_are_spec_errors(text, line):
    assert outcome(lambda: load_spec_text(SMALL + text, "t.yaml")) == [line]


def test_nan_from_the_command_line_is_a_spec_error():
    assert outcome(lambda: load_spec(SPECS / "lenet5.yaml", ["train.weight_decay=.nan"])) == [
        "--set:1:1: train.weight_decay: expected a number, received nan: NaN and infinity are "
        "not values a spec can hold"]


# -- names ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, shown", [
    ('"a\\nb"', "str 'a\\nb'"), ('"a\\ud800"', None), ('"\\e[31mred"', "str '\\x1b[31mred'"),
    ("x" * 201, "str 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... (201 characters)"),
])
def test_a_name_is_one_printable_line(name, shown):
    (line,) = outcome(lambda: load_spec_text(f"name: {name}\ninput: {{shape: [4]}}\n"
                                             "layers: [dense: 2]\n", "t.yaml"))
    if shown is None:
        assert line == ("t.yaml:1:7: name: the string holds a lone surrogate ('\\ud800' at "
                        "character 2), which is not text (remove the \\u escape)")
    else:
        assert line == (f"t.yaml:1:7: name: `name:` must be one printable line of at most 200 "
                        f"characters, received {shown} (for example: name: resnet50)")


def test_an_error_about_a_key_with_a_newline_stays_one_line():
    (line,) = outcome(lambda: load_spec_text(SMALL + '"evil\\nkey": 1\nlayers: [conv: 4]\n',
                                             "t.yaml"))
    assert line.startswith("t.yaml:4:1: evil\\nkey: unknown top-level key 'evil\\nkey'")


@FUZZ
@given(st.text(max_size=300))
@example("../../x/pwned")
@example("..")
@example("-rf")
@example("/etc/passwd")
def test_a_file_stem_from_a_name_stays_in_its_folder(name):
    stem = file_stem(name, "model")
    assert set(stem) <= set(string.ascii_letters + string.digits + "._-")
    assert 0 < len(stem) <= MAX_STEM_CHARS and stem[0] not in ".-"
    assert os.path.dirname(os.path.join("out", stem + ".svg")) == "out"
    assert default_run_dir(name) == os.path.join("runs", file_stem(name, "run"))


def test_a_name_with_a_slash_still_names_a_keras_model():
    from builder import build_model
    model = build_model(load_spec_text("name: ../../x/pwned\ninput: {shape: [4]}\n"
                                       "layers: [dense: 2]\n", "t.yaml"))
    assert model.name == ".._.._x_pwned"


def _draw(tmp_path, monkeypatch, spec, out=None, plugin=(), sets=()):
    monkeypatch.chdir(tmp_path)
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cmd_draw(argparse.Namespace(spec=str(spec), out=out, depth=0, set=list(sets),
                                           plugin=list(plugin)))
    return code, stdout.getvalue(), stderr.getvalue()


def test_draw_never_writes_where_a_name_points(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    (work / "evil.yaml").write_text("name: ../../x/pwned\ninput: {shape: [4]}\n"
                                    "layers: [dense: 2]\n")
    code, out, err = _draw(work, monkeypatch, "evil.yaml")
    assert code == 0, err
    assert sorted(os.listdir(work)) == ["_.._x_pwned.svg", "evil.yaml"]
    assert sorted(os.listdir(tmp_path)) == ["a"] and os.listdir(tmp_path / "a") == ["b"]
    assert out.splitlines()[1] == ("next: open _.._x_pwned.svg in a browser | kspec draw "
                                   "evil.yaml --out _.._x_pwned.html")


def test_draws_next_line_keeps_the_plugin_the_overrides_and_the_out_name(tmp_path,
                                                                         monkeypatch):
    # A plugin that registers nothing: the registry of this process stays as the zoo's.
    (tmp_path / "noop_plugin_for_draw.py").write_text('"""Registers nothing."""\n')
    (tmp_path / "p.yaml").write_text("name: p\ninput: {shape: [4]}\nlayers: [dense: 3]\n")
    code, out, err = _draw(tmp_path, monkeypatch, "p.yaml", out="pics.v1.svg",
                           plugin=["noop_plugin_for_draw"], sets=["name=p 2"])
    assert code == 0, err
    assert out.splitlines() == [
        "wrote pics.v1.svg (p 2: 2 boxes, 1 arrows)",
        "next: open pics.v1.svg in a browser | kspec draw p.yaml --plugin "
        "noop_plugin_for_draw --set 'name=p 2' --out pics.v1.html"]


# -- FIFOs ------------------------------------------------------------------------------------
def _within(seconds, call):
    """`call()`'s result; fails (instead of hanging) if it blocks longer than `seconds`."""
    box = []
    worker = threading.Thread(target=lambda: box.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert box, f"still blocked after {seconds} s"
    return box[0]


def test_a_fifo_is_never_waited_on(tmp_path, monkeypatch):
    os.mkfifo(tmp_path / "fifo.yaml")
    (tmp_path / "child.yaml").write_text("extends: fifo.yaml\nname: c\n")
    fifo, child = str(tmp_path / "fifo.yaml"), str(tmp_path / "child.yaml")
    assert _within(10, lambda: outcome(lambda: load_spec(fifo))) == [
        f"{fifo}:1:1: <top>: is not a regular file (a pipe, socket or device); expected a spec"]
    assert _within(10, lambda: outcome(lambda: load_spec(child))) == [
        f"{child}:1:10: extends: extends names 'fifo.yaml': is not a regular file (a pipe, "
        "socket or device); expected a spec"]
    args = argparse.Namespace(spec=fifo, specs=[fifo], set=[], plugin=[], json=False, out=None,
                              depth=0)
    for command in (cmd_check, cmd_summary, cmd_draw):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert _within(10, lambda: command(args)) == 2
        assert "is not a regular file" in err.getvalue()
    (tmp_path / "folder.yaml").mkdir()
    assert outcome(lambda: load_spec(str(tmp_path / "folder.yaml"))) == [
        f"{tmp_path / 'folder.yaml'}:1:1: <top>: is a folder; expected a spec"]


def test_a_fifo_spec_on_the_command_line_is_exit_2_at_once(tmp_path):
    os.mkfifo(tmp_path / "f.yaml")
    res = subprocess.run([sys.executable, str(ROOT / "kspec_cli.py"), "check", "f.yaml"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert res.returncode == 2
    assert res.stderr == ("f.yaml:1:1: <top>: is not a regular file (a pipe, socket or device); "
                          "expected a spec\n")


# -- the rest of item 17 ----------------------------------------------------------------------
def test_branch_errors_are_reported_when_the_merge_is_wrong():
    assert outcome(lambda: load_spec_text(
        SMALL + "layers:\n  - parallel: [[conv: {filters: 4, kernal: 3}], [convv: 3]]\n"
        "    merge: sum\n", "t.yaml")) == [
        "t.yaml:5:36: layers[0].parallel[0][0].conv.kernal: unknown argument 'kernal' for conv "
        "(did you mean 'kernel'?)",
        "t.yaml:5:50: layers[0].parallel[1][0].convv: unknown layer type 'convv' (did you mean "
        "'conv'?)",
        "t.yaml:6:12: layers[0].parallel.merge: merge must be concat or add, received str 'sum'"]


def test_an_option_s_override_is_reported_at_the_option():
    assert outcome(lambda: load_spec(SPECS / "lenet5.yaml", [
        ("--init", 'init="/w/x.txt"'), ("--epochs", "train.epochs=0")])) == [
        "--epochs: train.epochs: expected a positive integer, received int 0",
        "--init: init.from: cannot read weights from '/w/x.txt' (name a run directory, a .keras "
        "or .weights.h5 file, or keras.applications.NAME)"]


def test_yaml_text_with_a_lone_surrogate_from_the_command_line_is_an_error():
    # argv bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape).
    assert outcome(lambda: load_yaml_text("\udcff", "--set"))[0].startswith(
        "--set:1:1: <top>: YAML error: unacceptable character #xdcff")
