"""A corpus of malformed specs, each as `kspec check` meets it: exit 2, the file and line
named, no traceback, within seconds and a bounded amount of memory."""
import resource
import subprocess
import sys

import pytest

from builder import SpecErrors, load_spec, load_spec_text
from builder.errors import MAX_SHOWN
from tests.conftest import ROOT, SPECS

TOP = "kspec: 1\nname: t\ninput: {shape: [32, 32, 1]}\n"
HEAD = "head: {task: classification, classes: 4}\n"
MEMORY_CAP = 1 << 30  # 1 GiB of address space for one `kspec check`


def _nested(depth):
    return "(" * depth + "$a" + ")" * depth


CORPUS = {
    # head arguments: missing is allowed (the data gives it); misspelt or ill-typed are not
    "head_misspelt": (TOP + "layers: [flatten]\nhead: {task: classification, clases: 4}\n",
                      "t.yaml:5:30: head.clases: unknown argument 'clases' for the "
                      "classification head (did you mean 'classes'?)"),
    "head_ill_typed": (TOP + "layers: [flatten]\nhead: {task: classification, classes: four}\n",
                       "t.yaml:5:39: head.classes: expected a positive integer, received str "
                       "'four'"),
    "head_zero": (TOP + "layers: [flatten]\nhead: {task: detection, classes: 0}\n",
                  "t.yaml:5:34: head.classes: expected a positive integer, received int 0"),
    # bombs: fan-out, spinning repeats, a million errors, huge expressions
    "self_fan_out": (TOP + "blocks:\n  b:\n    layers: [b, b]\nlayers: [b]\n" + HEAD,
                     "t.yaml:6:14: layers[0].b/blocks.b.layers[0].b: block 'b' uses itself"),
    "mutual_recursion": (TOP + "blocks:\n  a:\n    layers: [b]\n  b:\n    layers: [a, a]\n"
                         "layers: [a]\n" + HEAD, "block 'a' uses itself (a -> b -> a)"),
    "repeat_empty_forever": (TOP + "layers:\n  - repeat: 1000000000000\n    layers: []\n" + HEAD,
                             "t.yaml:5:5: layers[0].repeat: the spec unrolls to more than "
                             "50,000 items"),
    "million_misspelt": (TOP + "layers:\n  - repeat: 1000000\n    layers: [convv: 3]\n" + HEAD,
                         "t.yaml:6:14: layers[0].repeat#0.layers[0].convv: unknown layer type "
                         "'convv' (did you mean 'conv'?) (in 24999 expansions)"),
    "nested_parens": (TOP + "args: {a: 2}\nlayers:\n  - conv: {filters: " + _nested(5000)
                      + "}\n" + HEAD, "expression of 10,002 characters is longer than 500"),
    "deep_parens": (TOP + "args: {a: 2}\nlayers:\n  - conv: {filters: " + _nested(40) + "}\n"
                    + HEAD, "expression nests deeper than 32"),
    "long_number_in_expr": (TOP + "args: {a: 2}\nlayers:\n  - conv: {filters: $a * " + "9" * 100
                            + "}\n" + HEAD, "more than 15 digits"),
    "long_number": (TOP + "layers:\n  - conv: {filters: " + "9" * 5000 + "}\n" + HEAD,
                    "t.yaml:5:21: layers[0].conv.filters: a number of 5,000 characters is too "
                    "long"),
    "product_overflow": (TOP + "args: {a: 9}\nlayers:\n  - conv: {filters: "
                         + " * ".join(["$a"] * 100) + "}\n" + HEAD, "is too large"),
    "int_over_2_31": (TOP + "layers:\n  - conv: {filters: 3000000000}\n" + HEAD,
                      "larger than 2,147,483,647"),
    # ids become Keras layer names: they must be usable, and not a head output's name
    "id_with_slash": (TOP + "layers: [flatten, dense: {units: 4, id: a/b}]\n" + HEAD,
                      "t.yaml:4:41: layers[1].dense.id: id 'a/b' cannot name a layer"),
    "id_is_head_output": (TOP + "layers: [flatten, dense: {units: 4, id: predictions}]\n" + HEAD,
                          "t.yaml:4:19: layers[1].dense: layer name 'predictions' is taken by "
                          "the classification head's output"),
    # extends only reads spec files, and never echoes a file that is not one
    "extends_system_file": ("extends: /etc/passwd\n", "which is not a spec file"),
}


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_malformed_spec_is_a_clean_exit_2(tmp_path, name):
    text, expected = CORPUS[name]
    (tmp_path / "t.yaml").write_text(text)
    res = subprocess.run([sys.executable, str(ROOT / "kspec_cli.py"), "check", "t.yaml"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=30,
                         preexec_fn=_limit_memory)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert expected in res.stderr, res.stderr[-2000:]
    assert res.stderr.startswith("t.yaml:")
    assert len(res.stderr.splitlines()) <= MAX_SHOWN + 1


def test_extends_never_echoes_a_yaml_file_that_is_not_a_spec(tmp_path):
    (tmp_path / "secrets.yaml").write_text("password: hunter2\ntoken: abc\n")
    (tmp_path / "t.yaml").write_text("extends: secrets.yaml\n")
    with pytest.raises(SpecErrors) as info:
        load_spec(str(tmp_path / "t.yaml"))
    assert "hunter2" not in str(info.value) and "password" not in str(info.value)
    assert "which is not a kspec spec" in str(info.value)


def test_errors_beyond_the_first_50_are_counted():
    layers = "".join(f"  - conv: {{filters: 4, kernal{i}: 3}}\n" for i in range(60))
    with pytest.raises(SpecErrors) as info:
        load_spec_text(TOP + "layers:\n" + layers + HEAD, "t.yaml")
    lines = str(info.value).splitlines()
    assert len(lines) == MAX_SHOWN + 1
    assert lines[-1] == "... and 10 more errors (fix the ones above first)"


def test_set_rejects_an_undeclared_argument():
    with pytest.raises(SpecErrors) as info:
        load_spec(SPECS / "resnet101.yaml", ["args.deph4=3"])
    assert str(info.value) == ("--set:1:1: args.deph4=3: the spec declares no argument "
                               "'deph4' (did you mean 'depth4'?)")
    with pytest.raises(SpecErrors, match=r"declares no argument 'clases' \(did you mean 'classes'"):
        load_spec(SPECS / "vgg16.yaml", ["args.clases=4"])
    with pytest.raises(SpecErrors, match="it has no `args:` section"):
        load_spec(SPECS / "lenet5.yaml", ["args.classes=4"])
    assert load_spec(SPECS / "resnet101.yaml", ["args.depth4=2"]).args["depth4"] == 2


def test_a_head_without_classes_checks_and_gets_them_from_the_data():
    spec = load_spec(SPECS / "lenet5.yaml")
    assert spec.head["classes"] is None and spec.graph.outputs == [spec.graph.body_output]
    res = subprocess.run([sys.executable, str(ROOT / "kspec_cli.py"), "check",
                          "specs/lenet5.yaml"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0
    assert res.stdout == ("specs/lenet5.yaml: ok (lenet5, 7 layers; head classes come from the "
                          "dataset)\n")


def test_layer_names_keep_a_digit_ending_type_apart_from_its_index():
    spec = load_spec_text(TOP + "layers: [conv: 4, relu6, relu6, flatten]\n" + HEAD)
    assert [n.name for n in spec.graph.nodes][:3] == ["conv0", "relu6_1", "relu6_2"]


def test_summary_piped_into_head_ends_quietly():
    res = subprocess.run(f"{sys.executable} kspec_cli.py summary specs/resnet152.yaml | head -2",
                         shell=True, cwd=ROOT, capture_output=True, text=True)
    assert res.stderr == "" and len(res.stdout.splitlines()) == 2
