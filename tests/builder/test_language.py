"""The spec language's constructs: expressions anywhere, `when:`, `$in`, positional block
arguments and tables, block signatures, `residual.add`, and their messages."""
import json

import jsonschema
import yaml

from builder import load_spec_text
from builder.schema import json_schema
from builder.summary import summary_dict
from tests.builder.test_spec_errors import errors_of
from tests.conftest import ROOT, SPECS


def spec(layers: str, blocks: str = "", shape="[8, 8, 4]", args="{}") -> str:
    text = f"name: t\ninput: {{shape: {shape}}}\nargs: {args}\n"
    if blocks:
        text += "blocks:\n" + blocks
    return text + "layers:\n" + layers


def layer_rows(text):
    return [(row["name"], row["type"], row["output_shape"]) for row in
            summary_dict(load_spec_text(text))["layers"]]


def test_any_value_naming_an_argument_is_an_expression():
    rows = layer_rows(spec("  - conv: {filters: 4 * $g, kernel: $g // 8 + 1, padding: same}\n",
                           args="{g: 16}"))
    assert rows == [("conv0", "conv", [8, 8, 64])]


def test_a_bare_word_where_a_number_is_expected_says_how_to_write_an_argument():
    (err,) = errors_of(spec("  - conv: {filters: 4 * growth}\n"))
    assert "expected a positive integer, received str '4 * growth'" in err
    assert "arguments are written $name, e.g. 4 * $growth" in err


def test_when_leaves_out_layers_block_uses_and_structural_items():
    blocks = ("  unit(f, expand=true):\n"
              "    - conv: {filters: $f * 2, kernel: 1, when: $expand}\n"
              "    - conv: {filters: $f, kernel: 1}\n")
    layers = ("  - unit: [4, false]\n  - unit: 4\n  - relu: {when: $n > 2}\n"
              "  - repeat: 2\n    when: false\n    layers: [relu]\n")
    rows = layer_rows(spec(layers, blocks, args="{n: 1}"))
    assert [r[0] for r in rows] == ["unit0.conv1", "unit1.conv0", "unit1.conv1"]
    assert [r[2][2] for r in rows] == [4, 8, 4]


def test_when_must_be_true_or_false():
    (err,) = errors_of(spec("  - relu: {when: $n}\n", args="{n: 3}"), "t.yaml")
    assert err == ("t.yaml:5:18: layers[0].relu.when: expected true or false, received int 3 "
                   "(from '$n')")


def test_in_reads_the_block_inputs_shape():
    blocks = "  widen(t): [conv: {filters: $in.channels * $t, kernel: $in.height - 1}]\n"
    rows = layer_rows(spec("  - conv: {filters: 6, kernel: 1}\n  - widen: 3\n", blocks))
    assert rows[-1] == ("widen1.conv0", "conv", [2, 2, 18])
    # outside blocks, $in is the model's input
    assert layer_rows(spec("  - conv: {filters: $in.channels + 1}\n"))[0][2] == [6, 6, 5]


def test_in_where_the_shape_is_not_known():
    text = spec("  - widen\n", "  widen(): [conv: {filters: $in.height}]\n",
                shape="[null, null, 3]")
    (err,) = errors_of(text, "t.yaml")
    assert err == ("t.yaml:5:29: layers[0].widen/blocks.widen.layers[0].conv.filters: "
                   "$in.height is not known here: the input's height is not fixed (its shape is "
                   "[None, None, 3]) (in block widen used at line 7)")
    (err,) = errors_of(spec("  - dense: {units: $in.width}\n", shape="[6]"))
    assert "$in.width is not known here: the input is a vector of shape [6], it has no width" in err


def test_in_after_an_earlier_error_says_nothing_more():
    blocks = "  widen(): [conv: {filters: $in.channels}]\n"
    errs = errors_of(spec("  - conv: {filters: 4, kernel: 9}\n  - widen\n", blocks))
    assert len(errs) == 1 and "does not fit conv" in errs[0]


def test_comparing_a_shape_with_a_string_is_an_error():
    (err,) = errors_of(spec("  - relu: {when: $in.channels == 'wide'}\n"))
    assert "cannot compare a number 4 with a string 'wide'" in err


def test_conditional_values_and_string_choices():
    blocks = "  down(s): [conv: {filters: 4, strides: $s, padding: \"'valid' if $s == 2 else 'same'\"}]\n"
    rows = layer_rows(spec("  - down: [[1], [2]]\n", blocks, shape="[9, 9, 4]"))
    assert [r[2] for r in rows] == [[9, 9, 4], [4, 4, 4]]


def test_positional_arguments_and_tables():
    blocks = "  cb(f, k=1, s=1): [conv: {filters: $f, kernel: $k, strides: $s}, batchnorm]\n"
    rows = layer_rows(spec("  - cb: [8, 3, 2]\n  - cb: [[4], [2, 1, 1]]\n", blocks,
                           shape="[9, 9, 3]"))
    assert [r[0] for r in rows if r[1] == "conv"] == ["cb0.conv0", "cb1_0.conv0", "cb1_1.conv0"]
    assert [r[2] for r in rows if r[1] == "conv"] == [[4, 4, 8], [4, 4, 4], [4, 4, 2]]
    (err,) = errors_of(spec("  - cb: [8, 3, 2, 1]\n", blocks), "t.yaml")
    assert err == ("t.yaml:7:5: layers[0].cb: block cb takes 3 arguments (f, k, s), received 4 "
                   "(a list of lists is one use per row)")


def test_block_signatures_and_their_mistakes():
    body = ": [relu]\n"
    for sig, words in [("b(x, x)", "argument 'x' appears twice in 'b(x, x)'"),
                       ("b(x y)", "cannot read the argument 'x y' in 'b(x y)'"),
                       ("b(x", "cannot read the block signature 'b(x'"),
                       ("b(x=[1)", "a block argument is declared by a type"),
                       ("b(x:tensor)", "a block argument is declared by a type")]:
        errs = errors_of(spec("  - b: 1\n", f"  {sig}{body}"))
        assert len(errs) == 1 and words in errs[0], (sig, errs)
    errs = errors_of(spec("  - b: 1\n", "  b(x):\n    args: {x: int}\n    layers: [relu]\n"))
    assert errs and "the arguments are already in the block's name" in errs[0]


def test_residual_add_false_leaves_the_body_alone():
    blocks = ("  maybe(f):\n    - residual:\n        add: $in.channels == $f\n"
              "        body: [conv: {filters: $f, padding: same}]\n")
    rows = layer_rows(spec("  - maybe: [[4], [6], [6]]\n", blocks))
    assert [r[1] for r in rows] == ["conv", "add", "conv", "conv", "add"]


def test_the_add_takes_its_inputs_in_the_written_order():
    for first, order in (("body", ("b", "s")), ("shortcut", ("s", "b"))):
        parts = {"body": "body: [conv: {filters: 4, id: b, padding: same}]",
                 "shortcut": "shortcut: [conv: {filters: 4, id: s, kernel: 1}]"}
        second = "shortcut" if first == "body" else "body"
        text = spec(f"  - residual: {{{parts[first]}, {parts[second]}}}\n")
        graph = load_spec_text(text).graph
        assert graph.nodes[-1].inputs == order


def test_an_error_in_a_block_used_many_times_is_printed_once_with_its_uses():
    blocks = "  b(f): [conv: {filters: $f, kernal: 3}]\n"
    (err,) = errors_of(spec("  - b: 4\n  - b: 8\n  - b: 16\n  - b: 32\n", blocks), "t.yaml")
    assert err == ("t.yaml:5:30: layers[0].b/blocks.b.layers[0].conv.kernal: unknown argument "
                   "'kernal' for conv (did you mean 'kernel'?) (in block b used at line 7; in "
                   "block b used at line 8; in block b used at line 9; and 1 more uses) "
                   "(in 4 expansions)")


def test_the_schema_accepts_every_zoo_spec_and_rejects_mistakes():
    schema = json.loads((ROOT / "docs" / "kspec.schema.json").read_text())
    assert schema == json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    zoo = sorted(SPECS.glob("*.yaml"))
    assert len(zoo) >= 29
    for path in zoo:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert not errors, f"{path.name}: {errors[:2]}"
    for bad in ({"name": "x", "input": {"shape": [4]}, "layers": [{"conv": {"filters": "four"}}]},
                {"name": "x", "input": {"shape": [4]}, "layers": [{"conv": {"filterz": 3}}]},
                {"name": "x", "layers": []}, {"extends": "a.yaml", "layerz": []}):
        assert list(validator.iter_errors(bad)), bad
