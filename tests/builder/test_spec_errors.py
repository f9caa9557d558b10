"""Golden error messages: every mistake at once, FILE:LINE:COL: PATH: message."""
import pytest

from builder import SpecErrors, load_spec, load_spec_text

BAD = """\
kspec: 1
name: bad
input: {shape: [32, 32, 3]}
blocks:
  blk:
    args: {filters: int}
    layers:
      - conv: {filters: $filters, kernal: 3}
layers:
  - conv: {filters: true}
  - convv: 3
  - blk: {filters: 8}
  - dense: {units: 1e-4}
  - maxpool: {size: 2, strides: $nope}
head: {task: clasification}
train: {epoch: 3, optimizer: adma}
"""

GOLDEN = [
    "bad.yaml:8:35: layers[2].blk/blocks.blk.layers[0].conv.kernal: unknown argument 'kernal' "
    "for conv (did you mean 'kernel'?) (in block blk used at line 12)",
    "bad.yaml:10:21: layers[0].conv.filters: expected a positive integer, received bool True",
    "bad.yaml:11:5: layers[1].convv: unknown layer type 'convv' (did you mean 'conv'?)",
    "bad.yaml:13:20: layers[3].dense.units: expected a positive integer, received float 0.0001",
    "bad.yaml:14:33: layers[4].maxpool.strides: unknown argument $nope in '$nope': no arguments "
    "here",
    "bad.yaml:15:14: head.task: unknown task 'clasification' (did you mean 'classification'?)",
    "bad.yaml:16:9: train.epoch: unknown argument 'epoch' for train (did you mean 'epochs'?)",
    "bad.yaml:16:30: train.optimizer: unknown optimizer 'adma' (did you mean 'adam'?)",
]


def errors_of(text, file="bad.yaml", overrides=()):
    with pytest.raises(SpecErrors) as info:
        load_spec_text(text, file, overrides)
    return [e.format() for e in info.value.errors]


def test_all_errors_at_once_golden():
    assert errors_of(BAD) == GOLDEN


def test_shape_error_names_first_bad_layer_with_shapes():
    text = ("name: s\ninput: {shape: [8, 8, 3]}\nlayers:\n  - conv: {filters: 4, kernel: 5}\n"
            "  - conv: {filters: 4, kernel: 5}\nhead: {task: classification, classes: 3}\n")
    assert errors_of(text, "s.yaml") == [
        "s.yaml:5:5: layers[1].conv: input shape (4, 4, 4) does not fit conv: conv window 5 is "
        "larger than the input (4)"]


def test_head_needs_vector():
    text = "name: s\ninput: {shape: [8, 8, 3]}\nlayers: [conv: 4]\nhead: {task: classification, classes: 3}\n"
    (msg,) = errors_of(text, "s.yaml")
    assert msg.startswith("s.yaml:4:7: head: the classification head does not fit the body")
    assert "globalavgpool or flatten" in msg


def test_wrong_loss_for_task_is_a_spec_error():
    text = ("name: s\ninput: {shape: [8, 8, 3]}\nlayers: [flatten]\n"
            "head: {task: classification, classes: 3, loss: dice}\n")
    (msg,) = errors_of(text, "s.yaml")
    assert msg.startswith("s.yaml:4:48: head.loss: expected one of cross_entropy, binary_cross_entropy")


def test_unknown_id_and_duplicate_id():
    text = ("name: s\ninput: {shape: [8, 8, 3]}\nlayers:\n  - conv: {filters: 4, id: a}\n"
            "  - conv: {filters: 4, id: a}\n  - add: {from: [a, b]}\n")
    msgs = errors_of(text, "s.yaml")
    assert any("layer name 'a' is used twice" in m for m in msgs)
    assert any("unknown id 'b'" in m for m in msgs)


def test_overrides_are_typed_and_strict(tmp_path):
    spec = load_spec("specs/resnet50.yaml", ["args.depth4=23", "train.epochs=2"])
    assert len(spec.graph.nodes) == 346 and spec.train["epochs"] == 2
    with pytest.raises(SpecErrors, match="expected a positive integer, received bool True"):
        load_spec("specs/lenet5.yaml", ["train.epochs=yes", "train.batch_size=true"])
    with pytest.raises(SpecErrors, match="did you mean 'epochs'"):
        load_spec("specs/lenet5.yaml", ["train.epoch=3"])


def test_extends_cycle_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    with pytest.raises(SpecErrors, match="cycle"):
        load_spec(str(tmp_path / "a.yaml"))


def test_repeat_cap(tmp_path):
    text = "name: s\ninput: {shape: [4]}\nlayers:\n  - repeat: 100000\n    layers: [relu]\n"
    assert any("more than 20,000 layers" in m for m in errors_of(text, "s.yaml"))


def test_block_recursion_is_caught():
    text = ("name: s\ninput: {shape: [4]}\nblocks:\n  loop:\n    layers: [loop]\n"
            "layers: [loop]\n")
    assert errors_of(text, "s.yaml") == [
        "s.yaml:5:14: layers[0].loop/blocks.loop.layers[0].loop: block 'loop' uses itself "
        "(loop -> loop) (a block cannot contain itself) (in block loop used at line 6)"]
