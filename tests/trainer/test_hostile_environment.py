"""Hostile environments and command lines: kspec's environment variables, Keras' config file
and the options every command parses. Each bad value is exit 2 with a line that says what to
change, before anything imports Keras; generated values never raise anything else."""
import contextlib
import io
import json
import os
import subprocess
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kspec_cli import make_parser
from tests.conftest import ROOT, SPECS
from trainer.environment import (EnvironmentProblem, collective_timeout, environment_problems,
                                 keras_config_path, port_base)

FUZZ = settings(max_examples=50, deadline=None)
LENET = str(SPECS / "lenet5.yaml")


@pytest.fixture
def keras_home(tmp_path):
    """An environment whose Keras config lives in a folder of the test's own."""
    home = tmp_path / "keras_home"
    home.mkdir()
    return home, {"KERAS_HOME": str(home)}


def test_a_clean_environment_has_no_problems(keras_home):
    home, env = keras_home
    (home / "keras.json").write_text(json.dumps({"floatx": "float32", "epsilon": 1e-07,
                                                 "backend": "tensorflow",
                                                 "image_data_format": "channels_last"}))
    assert environment_problems({**env, "KERAS_BACKEND": "tensorflow", "KSPEC_PORT_BASE": "9000",
                                 "KSPEC_COLLECTIVE_TIMEOUT": "2.5"}) == []
    assert keras_config_path(env) == str(home / "keras.json")


@pytest.mark.parametrize("variables, problem", [
    ({"KERAS_BACKEND": "jax"}, "KERAS_BACKEND='jax': kspec runs Keras on TensorFlow; unset "
     "KERAS_BACKEND or set it to tensorflow"),
    ({"KSPEC_COLLECTIVE_TIMEOUT": "abc"}, "KSPEC_COLLECTIVE_TIMEOUT='abc': expected seconds "
     "from 1 to 86,400 (default 300); set a number or unset it"),
    ({"KSPEC_COLLECTIVE_TIMEOUT": "nan"}, "KSPEC_COLLECTIVE_TIMEOUT='nan': expected seconds"),
    ({"KSPEC_COLLECTIVE_TIMEOUT": "0"}, "KSPEC_COLLECTIVE_TIMEOUT='0': expected seconds"),
    ({"KSPEC_PORT_BASE": "70000"}, "KSPEC_PORT_BASE='70000': expected a port from 1 to 65535 "
     "(default 8888); set one or unset it"),
    ({"KSPEC_PORT_BASE": "٣"}, "KSPEC_PORT_BASE='٣': expected a port"),
    ({"TFDS_DATA_DIR": ""}, "TFDS_DATA_DIR is empty; name the folder of prepared datasets, or "
     "unset it"),
    ({"KERAS_MAX_EPOCHS": "ten"}, "KERAS_MAX_EPOCHS='ten': Keras reads it as an integer; set "
     "one or unset it"),
])
def test_each_bad_variable_is_named_with_what_to_change(keras_home, variables, problem):
    _, env = keras_home
    (line,) = environment_problems({**env, **variables})
    assert line.startswith(problem)


def test_tfds_data_dir_naming_a_file_is_a_problem(keras_home, tmp_path):
    _, env = keras_home
    (tmp_path / "afile").write_text("x")
    assert environment_problems({**env, "TFDS_DATA_DIR": str(tmp_path / "afile")}) == [
        f"TFDS_DATA_DIR={str(tmp_path / 'afile')!r} is not a folder; name the folder of "
        "prepared datasets, or unset it"]
    assert environment_problems({**env, "TFDS_DATA_DIR": str(tmp_path / "not_yet")}) == []


@pytest.mark.parametrize("content, problem", [
    ({"image_data_format": "channels_first"}, '"image_data_format": \'channels_first\', but '
     'kspec needs \'channels_last\'; set "image_data_format": "channels_last" or remove the '
     'file'),
    ({"backend": "jax"}, '"backend": \'jax\', but kspec needs \'tensorflow\'; set "backend": '
     '"tensorflow" or remove the file'),
    ({"floatx": "float16"}, '"floatx": \'float16\', but kspec needs \'float32\''),
    ({"epsilon": 1}, '"epsilon": 1 is not a small positive number; set "epsilon": 1e-07 or '
     'remove the file'),
    ([1, 2], "Keras' config must be a JSON object; fix or remove it"),
    ("{not json", "not valid JSON"),
    ('{"epsilon": NaN}', "not valid JSON (NaN is not a JSON number)"),
])
def test_a_keras_config_kspec_cannot_run_with_is_named(keras_home, content, problem):
    home, env = keras_home
    text = content if isinstance(content, str) else json.dumps(content)
    (home / "keras.json").write_text(text)
    (line,) = environment_problems(env)
    assert line.startswith(str(home / "keras.json")) and problem in line, line


def test_the_backend_variable_wins_over_the_config_file(keras_home):
    home, env = keras_home
    (home / "keras.json").write_text('{"backend": "jax"}')
    assert environment_problems({**env, "KERAS_BACKEND": "tensorflow"}) == []


def test_a_keras_config_that_is_a_fifo_is_refused_at_once(keras_home):
    home, env = keras_home
    os.mkfifo(home / "keras.json")
    assert environment_problems(env) == [
        f"{home / 'keras.json'}: is not a regular file (a pipe, socket or device); expected a "
        "Keras config file; fix or remove it (Keras writes a new one)"]


VARIABLES = ("KERAS_BACKEND", "KSPEC_COLLECTIVE_TIMEOUT", "KSPEC_PORT_BASE", "TFDS_DATA_DIR",
             "KERAS_MAX_EPOCHS", "KERAS_MAX_STEPS_PER_EPOCH", "KERAS_HOME")
ENV_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                   max_size=40)


@FUZZ
@given(st.dictionaries(st.sampled_from(VARIABLES), ENV_TEXT, max_size=4))
@example({"KSPEC_COLLECTIVE_TIMEOUT": "1e999"})
@example({"KSPEC_PORT_BASE": "9" * 5000})
@example({"KERAS_HOME": ""})
def test_generated_environments_give_problems_never_exceptions(tmp_path_factory, env):
    env = {"KERAS_HOME": str(tmp_path_factory.mktemp("home")), **env}
    problems = environment_problems(env)
    assert all(isinstance(p, str) and "\n" not in p for p in problems)
    for reader in (collective_timeout, port_base):
        try:
            reader(env)
        except EnvironmentProblem as exc:
            assert str(exc) in problems


# -- options ------------------------------------------------------------------------------------
def _parse(argv):
    """The exit code argparse gives `argv` (0: parsed), and what it printed."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            make_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code, err.getvalue()
    return 0, err.getvalue()


def _integer(text):
    try:
        return int(text)
    except ValueError:
        return None


@FUZZ
@given(seed=st.one_of(st.integers(-2 ** 40, 2 ** 40).map(str), ENV_TEXT),
       cpus=st.one_of(st.integers(-10, 10 ** 6).map(str), ENV_TEXT),
       plugin=ENV_TEXT)
@example(seed="4294967296", cpus="100000", plugin="")
def test_generated_options_parse_or_exit_2(seed, cpus, plugin):
    for option, value, valid in (
            ("--seed", seed, _integer(seed) is not None and 0 <= _integer(seed) < 2 ** 32),
            ("--logical-cpus", cpus, _integer(cpus) is not None and 0 <= _integer(cpus) <= 64),
            ("--plugin", plugin, plugin.strip() != "")):
        code, err = _parse(["train", LENET, f"{option}={value}"])
        assert code == (0 if valid else 2), (option, value, err)
        assert valid or f"kspec: error: argument {option}: " in err


# -- whole commands -----------------------------------------------------------------------------
def _kspec(*args, env):
    return subprocess.run([sys.executable, str(ROOT / "kspec_cli.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env})


def test_kspec_with_another_keras_backend_is_exit_2_before_anything_runs(keras_home):
    _, env = keras_home
    res = _kspec("check", LENET, env={**env, "KERAS_BACKEND": "jax",
                                      "KSPEC_COLLECTIVE_TIMEOUT": "abc"})
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.splitlines() == [
        "kspec: KERAS_BACKEND='jax': kspec runs Keras on TensorFlow; unset KERAS_BACKEND or set "
        "it to tensorflow",
        "kspec: KSPEC_COLLECTIVE_TIMEOUT='abc': expected seconds from 1 to 86,400 (default 300); "
        "set a number or unset it"]


def test_train_py_checks_the_environment_too(keras_home):
    home, env = keras_home
    (home / "keras.json").write_text('{"image_data_format": "channels_first"}')
    res = subprocess.run([sys.executable, str(ROOT / "train.py"), LENET], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    assert res.returncode == 2
    assert res.stderr.startswith(f"train.py: {home / 'keras.json'}: \"image_data_format\": "
                                 "'channels_first', but kspec needs 'channels_last'")


def test_a_malformed_slurm_hostlist_is_exit_2_at_once(tmp_path, keras_home):
    _, env = keras_home
    res = _kspec("train", LENET, "--data", "xor", "--out", str(tmp_path / "run"),
                 env={**env, "SLURM_STEP_NUM_TASKS": "2", "SLURM_STEP_NODELIST": "node[01-",
                      "SLURM_STEP_TASKS_PER_NODE": "1(x2)", "SLURM_PROCID": "0",
                      "KSPEC_COLLECTIVE_TIMEOUT": "600"})
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr == ("kspec train: cannot read the Slurm hostlist 'node[01-': a '[' is not "
                          "closed\n")
    assert not (tmp_path / "run").exists()
