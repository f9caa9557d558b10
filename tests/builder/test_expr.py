import pytest

from builder.expr import MAX_CHARS, MAX_DEPTH, ExprError, UnknownValue, evaluate, is_expr

ENV = {"f": 64, "b": 3, "x": 3, "p": True, "t": 6, "s": "conv", "in": {"channels": 32,
       "height": 14, "width": UnknownValue("the width depends on the image size")}}


@pytest.mark.parametrize("text, want", [
    ("$f * 4", 256), ("$b - 1", 2), ("($b - 1) // 2", 1), ("$x / 2", 1.5), ("-$x + 10", 7),
    ("$p", True), ("4 * $f", 256), ("$f // 2 + 1", 33), ("$t > 1", True), ("$t <= 1", False),
    ("$t == 6 and $p", True), ("$t != 6 or not $p", False), ("not $t > 1", False),
    ("$f if $t > 1 else 0", 64), ("$f if $t < 1 else 0", 0), ("1 if false else 2 if $p else 3", 2),
    ("$s + '_up'", "conv_up"), ("$s == \"conv\"", True), ("$in.channels * $t", 192),
    ("$in.height >= 7 and $in.channels == 32", True), ("(64 + 6 * $b) // 2", 41),
    ("1e-3 * $f", 0.064), ("$p == true", True),
])
def test_evaluate(text, want):
    assert evaluate(text, ENV) == want


def test_only_the_taken_side_is_evaluated():
    assert evaluate("1 if $f > 0 else $f / 0", ENV) == 1
    assert evaluate("$p or $f / 0", ENV) is True and evaluate("not $p and $missing", ENV) is False


@pytest.mark.parametrize("text, words", [
    ("$f ** 2", "expected a value at character 5 of expression '$f ** 2', found '*'"),
    ("$g", "unknown argument $g"), ("$f / 0", "division by zero"),
    ("__import__('os')", "'__import__' at character 1 of expression \"__import__('os')\" is not "
                         "a value; arguments are written $__import__"),
    ("$f + ", "ends too early"), ("$p * 2", "non-number"),
    ("4 * $f +", "expression '4 * $f +' ends too early: expected a value"),
    ("4 * $f )", "expected an operator or the end at character 8 of expression '4 * $f )', found ')'"),
    ("$f if $p", "expected 'else'"), ("1 < $f < 100", "comparisons do not chain"),
    ("$f and $p", "'and' needs true or false, received a number 64"),
    ("1 if $f else 2", "'if' needs true or false, received a number 64"),
    ("$in.channels == 'conv'", "cannot compare a number 32 with a string 'conv'"),
    ("$s < 'z'", "'<' compares numbers, received a string 'conv'"),
    ("$in.width", "$in.width is not known here: the width depends on the image size"),
    ("$in", "$in has fields: $in.channels, $in.height, $in.width"),
    ("$in.depth", "$in has no field 'depth'"), ("$f.channels", "it has no field 'channels'"),
    ("$f # 2", "cannot read '# 2' at character 4"),
])
def test_errors_say_where_reading_failed(text, words):
    with pytest.raises(ExprError) as info:
        evaluate(text, ENV)
    assert words in str(info.value)


def test_size_bounds():
    with pytest.raises(ExprError, match="longer than"):
        evaluate("$f + " * (MAX_CHARS // 4) + "1", ENV)
    with pytest.raises(ExprError, match="nests deeper"):
        evaluate("(" * (MAX_DEPTH + 1) + "$f" + ")" * (MAX_DEPTH + 1), ENV)
    with pytest.raises(ExprError, match="nests deeper"):
        evaluate("-" * (MAX_DEPTH + 1) + "$f", ENV)
    with pytest.raises(ExprError, match="too large"):
        evaluate("$f * 100000000 * 100000000", ENV)
    with pytest.raises(ExprError, match="more than 15 digits"):
        evaluate("$f * 1234567890123456789", ENV)
    # `not` chains and conditionals stay within the stack at the longest allowed text.
    assert evaluate("not " * 120 + "$p", ENV) is True
    with pytest.raises(ExprError, match="nests deeper"):
        evaluate("1 if $p else " * (MAX_DEPTH + 1) + "2", ENV)


def test_is_expr():
    assert is_expr("$a") and is_expr("4 * $growth") and is_expr("(1 + $a)")
    assert not is_expr("relu") and not is_expr(3) and not is_expr("cost: $5")
