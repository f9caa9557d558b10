import pytest

from builder.errors import SpecErrors
from builder.yaml_loader import MAX_DEPTH, load_yaml_file, load_yaml_text


def messages(text):
    with pytest.raises(SpecErrors) as info:
        load_yaml_text(text, "s.yaml")
    return [e.format() for e in info.value.errors]


def test_core_schema_scalars():
    data = load_yaml_text("a: 1e-4\nb: no\nc: 010\nd: 1:30\ne: '5'\nf: [1, 2.5, true, null]\n")
    assert data == {"a": 1e-4, "b": "no", "c": 10, "d": "1:30", "e": "5", "f": [1, 2.5, True, None]}
    assert isinstance(data["a"], float)


def test_explicit_standard_tags_win_over_the_schema():
    data = load_yaml_text("a: !!str 5\nb: !!float 3\nc: !!str no\nd: 5\n")
    assert data == {"a": "5", "b": 3.0, "c": "no", "d": 5}
    assert isinstance(data["b"], float)
    assert messages("a: !!int x\n") == [
        "s.yaml:1:4: a: value 'x' does not fit its tag tag:yaml.org,2002:int"]


def test_duplicate_key_names_both_lines():
    assert messages("a: 1\nb: 2\na: 3\n") == [
        "s.yaml:3:1: a: duplicate key 'a' (first at line 1) (keep one of the two)"]


def test_aliases_are_refused_before_expansion():
    laughs = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    assert messages(laughs) == ["s.yaml:1:4: <top>: YAML anchors and aliases are not allowed "
                                "(write the value out, or define a block and use it twice)"]


def test_python_tags_are_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    text = f"a: !!python/object/apply:os.system ['touch {marker}']\n"
    (msg,) = messages(text)
    assert "tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed" in msg
    assert not marker.exists()


def test_syntax_error_has_position():
    assert messages("a: [1, 2\n") == [
        "s.yaml:2:1: <top>: YAML syntax error: expected ',' or ']', but got '<stream end>'"]


def test_empty_and_deep():
    assert "file is empty" in messages("  \n")[0]
    deep = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    assert any("nesting deeper" in m for m in messages(deep))


def test_binary_and_non_utf8_files(tmp_path):
    for data, words in ((b"\x00\x01\x02", "binary"), (b"a: \xff\xfe\n", "not UTF-8")):
        p = tmp_path / "x.yaml"
        p.write_bytes(data)
        with pytest.raises(SpecErrors) as info:
            load_yaml_file(str(p))
        assert words in str(info.value) and str(p) in str(info.value)


def test_positions_are_kept():
    data = load_yaml_text("top:\n  key: [1, 2]\n")
    assert data["top"].value_where["key"].line == 2
    assert data["top"]["key"].item_where[1].col == 12
