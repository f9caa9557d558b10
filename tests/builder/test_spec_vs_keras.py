"""The four newest zoo specs are shorter than the Keras Python that builds the same network.

The Keras side lives in docs/keras_equivalents/: helpers and loops allowed, one layer
call per statement (as keras.applications is written), lines of at most 100 characters.
A spec's count leaves out its `train:` section (the Keras files build the network only).
Both count non-blank lines that are not comments. docs/spec-vs-keras.md shows the table;
this test keeps it true.
"""
import importlib.util
import re

import pytest

from builder import load_spec
from builder.summary import summary_dict
from tests.conftest import ROOT, SPECS

KERAS = ROOT / "docs" / "keras_equivalents"
NETWORKS = ("squeezenet", "mobilenet_v2", "densenet121", "xception")
MAX_COLUMNS = 100


def code_lines(path) -> list[str]:
    return [ln for ln in path.read_text().splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


def spec_lines(path) -> list[str]:
    out, in_train = [], False
    for ln in code_lines(path):
        if not ln.startswith(" "):
            in_train = ln.startswith("train:")
        if not in_train:
            out.append(ln)
    return out


def counts(name) -> tuple[int, int]:
    return len(spec_lines(SPECS / f"{name}.yaml")), len(code_lines(KERAS / f"{name}.py"))


@pytest.mark.parametrize("name", NETWORKS)
def test_spec_is_shorter_than_keras_and_builds_the_same_network(name):
    spec_text, keras_text = spec_lines(SPECS / f"{name}.yaml"), code_lines(KERAS / f"{name}.py")
    assert len(spec_text) < len(keras_text), (len(spec_text), len(keras_text))
    assert all(len(ln) <= MAX_COLUMNS for ln in keras_text)
    assert all(len(ln) <= MAX_COLUMNS for ln in spec_text if not ln.startswith("paper:"))
    loader = importlib.util.spec_from_file_location(name, KERAS / f"{name}.py")
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    reference = getattr(module, name)()
    assert reference.count_params() == summary_dict(load_spec(SPECS / f"{name}.yaml"))[
        "total_params"]


def test_the_page_shows_the_measured_counts():
    page = (ROOT / "docs" / "spec-vs-keras.md").read_text()
    for name in NETWORKS:
        spec_n, keras_n = counts(name)
        row = re.search(rf"^\| `{name}` \| ([\d,]+) \| (\d+) \| (\d+) \|", page, re.M)
        assert row, f"no row for {name}"
        params = summary_dict(load_spec(SPECS / f"{name}.yaml"))["total_params"]
        assert row.groups() == (f"{params:,}", str(spec_n), str(keras_n)), name


def test_the_readme_shows_the_spec_as_it_is():
    """Every line of the README's MobileNetV2 excerpt is in the spec, in the same order."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("**Blocks like functions", 1)[1].split("```yaml\n", 1)[1].split("```")[0]
    lines = iter((SPECS / "mobilenet_v2.yaml").read_text().splitlines())
    for shown in (ln for ln in block.splitlines() if ln.strip()):
        assert any(ln == shown for ln in lines), f"not in the spec (or out of order): {shown}"
