import pytest

from builder.expr import ExprError, evaluate, is_expr


@pytest.mark.parametrize("text, env, want", [
    ("$f * 4", {"f": 64}, 256), ("$b - 1", {"b": 3}, 2), ("($b - 1) // 2", {"b": 7}, 3),
    ("$x / 2", {"x": 3}, 1.5), ("-$x + 10", {"x": 3}, 7), ("$p", {"p": True}, True),
])
def test_evaluate(text, env, want):
    assert evaluate(text, env) == want


@pytest.mark.parametrize("text, words", [
    ("$f ** 2", "unexpected"), ("$g", "unknown argument $g"), ("$f / 0", "division by zero"),
    ("__import__('os')", "cannot read"), ("$f + ", "ends too early"), ("$p * 2", "non-number"),
])
def test_errors(text, words):
    with pytest.raises(ExprError, match=words.replace("$", r"\$").replace("*", r"\*")):
        evaluate(text, {"f": 4, "p": True})


def test_is_expr():
    assert is_expr("$a") and not is_expr("relu") and not is_expr(3)
