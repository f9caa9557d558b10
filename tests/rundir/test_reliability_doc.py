"""docs/reliability.md stays true: each row names a test that exists, and every test of
tests/rundir/test_reliability.py has a row."""
import ast
import re

from tests.conftest import ROOT

DEFAULT = "tests/rundir/test_reliability.py"


def _tests_in(path):
    tree = ast.parse((ROOT / path).read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)
            and n.name.startswith("test_")}


def test_every_row_names_a_real_test_and_every_fault_test_has_a_row():
    doc = (ROOT / "docs" / "reliability.md").read_text()
    named = re.findall(r"^\|.*\| `([^`]+)` \|$", doc, re.M)
    assert len(named) >= 20
    for ref in named:
        path, _, name = ref.rpartition("::")
        assert name in _tests_in(path or DEFAULT), ref
    assert _tests_in(DEFAULT) <= {ref for ref in named if "::" not in ref}
