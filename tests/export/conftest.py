"""One trained run for every export test module (training it takes some seconds)."""
import pytest

from tests.conftest import SPECS, run, train_cmd


@pytest.fixture(scope="session")
def trained(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("run")
    # Trained to a confident model, as one that is deployed is: a barely trained one has
    # near-tied classes, and int8 rounding flips some of them (its agreement fell to 0.96).
    res = run(train_cmd(SPECS / "lenet5.yaml", out, data_dir, "--epochs", "5", "--no-xla"))
    assert res.returncode == 0, res.stderr
    return out
