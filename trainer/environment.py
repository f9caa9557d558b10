"""kspec's environment, checked once at the start of every command.

Environment variables and Keras' config file are input as much as a spec is, and each
wrong one would fail far from its cause: `KERAS_BACKEND=jax` or a `keras.json` with
`channels_first` inside Keras, `TFDS_DATA_DIR` naming a file inside TFDS,
`KSPEC_COLLECTIVE_TIMEOUT=abc` as a traceback once the cluster starts, a `keras.json`
that is a FIFO by blocking the import of Keras. `environment_problems` reads them all
before anything imports Keras and names every problem with what to change; `kspec` and
`train.py` exit 2 on them (`environment_exit_code`). The readers of single values
(`collective_timeout`, `port_base`) are the ones the trainer uses too, so a value is
judged the same everywhere.
Nothing here imports TensorFlow or Keras.
"""
from __future__ import annotations

import math
import os
import sys

from builder.errors import EXIT_BAD_INPUT
from builder.untrusted import UntrustedFileError, read_json

MAX_KERAS_JSON = 64 << 10  # Keras writes about 100 bytes
DEFAULT_COLLECTIVE_TIMEOUT = 300.0
MAX_COLLECTIVE_TIMEOUT = 86_400.0  # a day: longer is a typo, and a hang in all but name
DEFAULT_PORT_BASE = 8888  # task k on a node listens on KSPEC_PORT_BASE + k


class EnvironmentProblem(ValueError):
    """An environment variable or Keras config kspec cannot run with; says what to change."""


def collective_timeout(env=None) -> float:
    """KSPEC_COLLECTIVE_TIMEOUT: seconds a cluster waits for a peer (1 to a day)."""
    env = os.environ if env is None else env
    text = env.get("KSPEC_COLLECTIVE_TIMEOUT")
    if text is None:
        return DEFAULT_COLLECTIVE_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 1 <= value <= MAX_COLLECTIVE_TIMEOUT:  # NaN fails this too
        raise EnvironmentProblem(f"KSPEC_COLLECTIVE_TIMEOUT={text[:40]!r}: expected seconds "
                                 f"from 1 to {MAX_COLLECTIVE_TIMEOUT:,.0f} (default "
                                 f"{DEFAULT_COLLECTIVE_TIMEOUT:g}); set a number or unset it")
    return value


def port_base(env=None) -> int:
    """KSPEC_PORT_BASE: the first port of a node's tasks (1 to 65535)."""
    env = os.environ if env is None else env
    text = env.get("KSPEC_PORT_BASE")
    if text is None:
        return DEFAULT_PORT_BASE
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 5
            and 1 <= int(digits) <= 65535):
        raise EnvironmentProblem(f"KSPEC_PORT_BASE={text[:40]!r}: expected a port from 1 to "
                                 f"65535 (default {DEFAULT_PORT_BASE}); set one or unset it")
    return int(digits)


def keras_config_path(env=None) -> str:
    """Where Keras reads keras.json from, found as Keras finds it (KERAS_HOME, else
    ~/.keras, else /tmp/.keras where the home folder is not writable)."""
    env = os.environ if env is None else env
    if "KERAS_HOME" in env:
        folder = env["KERAS_HOME"]
    else:
        home = os.path.expanduser("~")
        folder = os.path.join(home if os.access(home, os.W_OK) else "/tmp", ".keras")
    return os.path.expanduser(os.path.join(folder, "keras.json"))


def _keras_problems(env) -> list[str]:
    problems = []
    backend = env.get("KERAS_BACKEND")
    if backend and backend != "tensorflow":
        problems.append(f"KERAS_BACKEND={backend[:40]!r}: kspec runs Keras on TensorFlow; "
                        "unset KERAS_BACKEND or set it to tensorflow")
    for name in ("KERAS_MAX_EPOCHS", "KERAS_MAX_STEPS_PER_EPOCH"):  # Keras int()s them
        if name in env and not _is_integer(env[name]):
            problems.append(f"{name}={env[name][:40]!r}: Keras reads it as an integer; set "
                            "one or unset it")
    path = keras_config_path(env)
    if not os.path.exists(path):  # as Keras looks: a dangling link is no config
        return problems
    try:
        config = read_json(path, MAX_KERAS_JSON, "Keras config file")
    except UntrustedFileError as exc:
        return problems + [f"{exc}; fix or remove it (Keras writes a new one)"]
    if not isinstance(config, dict):
        return problems + [f"{path}: Keras' config must be a JSON object; fix or remove it"]
    wanted = {"image_data_format": "channels_last", "floatx": "float32"}
    if not backend:  # KERAS_BACKEND, when set, wins over the file
        wanted["backend"] = "tensorflow"
    for key, value in wanted.items():
        if key in config and config[key] != value:
            problems.append(f"{path}: \"{key}\": {_shown(config[key])}, but kspec needs "
                            f"{value!r}; set \"{key}\": \"{value}\" or remove the file")
    if "epsilon" in config and (not isinstance(config["epsilon"], float)
                                or not 0 < config["epsilon"] < 1):
        problems.append(f"{path}: \"epsilon\": {_shown(config['epsilon'])} is not a small "
                        "positive number; set \"epsilon\": 1e-07 or remove the file")
    return problems


def _is_integer(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _tfds_problems(env) -> list[str]:
    if "TFDS_DATA_DIR" not in env:
        return []
    folder = env["TFDS_DATA_DIR"]
    if not folder.strip():
        return ["TFDS_DATA_DIR is empty; name the folder of prepared datasets, or unset it"]
    if os.path.exists(folder) and not os.path.isdir(folder):
        return [f"TFDS_DATA_DIR={folder!r} is not a folder; name the folder of prepared "
                "datasets, or unset it"]
    return []


def environment_problems(env=None) -> list[str]:
    """Every problem with kspec's environment variables and Keras' config, one line each."""
    env = os.environ if env is None else env
    problems = _keras_problems(env) + _tfds_problems(env)
    for reader in (collective_timeout, port_base):
        try:
            reader(env)
        except EnvironmentProblem as exc:
            problems.append(str(exc))
    return problems


def environment_exit_code(prog: str = "kspec") -> int:
    """For a command's start: 0, or EXIT_BAD_INPUT after printing each problem on stderr."""
    problems = environment_problems()
    for problem in problems:
        print(f"{prog}: {problem}", file=sys.stderr)
    return EXIT_BAD_INPUT if problems else 0
