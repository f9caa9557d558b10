"""docs/reliability.md stays true: each row names a test that exists, every test of
tests/rundir/test_reliability.py has a row, and so does every test of the hostile-input
suites."""
import ast
import re

from tests.conftest import ROOT

DEFAULT = "tests/rundir/test_reliability.py"
HOSTILE = ["tests/builder/test_untrusted.py", "tests/builder/test_hostile_specs.py",
           "tests/trainer/test_hostile_environment.py", "tests/rundir/test_hostile_rundir.py",
           "tests/rundir/test_weights_files.py", "tests/trainer/test_hostile_weights.py",
           "tests/trainer/test_hostile_inputs.py", "tests/tasks/test_hostile_datasets.py",
           "tests/tasks/test_dataset_fields.py", "tests/tasks/test_dataset_fuzz.py",
           "tests/rundir/test_user_files.py", "tests/export/test_user_files.py"]


def _tests_in(path):
    tree = ast.parse((ROOT / path).read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)
            and n.name.startswith("test_")}


def _doc():
    return (ROOT / "docs" / "reliability.md").read_text()


def test_every_row_names_a_real_test_and_every_fault_test_has_a_row():
    faults = _doc().split("## Hostile input")[0]
    named = re.findall(r"^\|.*\| `([^`]+)` \|$", faults, re.M)
    assert len(named) >= 20
    for ref in named:
        path, _, name = ref.rpartition("::")
        assert name in _tests_in(path or DEFAULT), ref
    assert _tests_in(DEFAULT) <= {ref for ref in named if "::" not in ref}


def test_every_hostile_input_row_names_real_tests_and_every_hostile_test_has_a_row():
    hostile = _doc().split("## Hostile input")[1]
    rows = [line for line in hostile.splitlines() if line.startswith("| ")]
    named = [ref for row in rows for ref in re.findall(r"`(tests/[^`]+::test_\w+)`",
                                                       row.rsplit(" | ", 1)[-1])]
    assert len(named) >= 100
    for ref in named:
        path, _, name = ref.partition("::")
        assert name in _tests_in(path), ref
    for path in HOSTILE:
        missing = {f"{path}::{t}" for t in _tests_in(path)} - set(named)
        assert not missing, f"tests without a row in docs/reliability.md: {sorted(missing)}"
