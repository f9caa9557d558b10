"""The README as a newcomer follows it: a fresh copy of the project, relative paths, the
first command verbatim, then every command `kspec train` prints as `next:`, verbatim."""
import os
import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

# What TensorFlow, absl and TFDS print when left alone; none of it may reach the person.
LIBRARY_NOISE = re.compile(
    r"^[IWEF]\d{4} |^WARNING: All log messages|^WARNING:absl|cuInit|oneDNN|cuda|"
    r"Downloading and preparing|dataset_info\.json|Generating splits|Shuffling |"
    r"tensorflow/|deprecat", re.I | re.M)


def _readme_first_command() -> str:
    """The command after `&&` on the README's first install line."""
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith('pip install -e ".[test]" && kspec train'):
            return line.split("&& ", 1)[1].strip()
    raise AssertionError("the README's first command is not where the newcomer looks")


def _fresh_copy(dest):
    """The working tree as git would check it out (tracked and new, unignored files)."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            os.makedirs(dest / os.path.dirname(name), exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs the project's git checkout")
def test_readme_first_command_then_every_next_command(tmp_path, data_dir):
    project = _fresh_copy(tmp_path / "kspec")
    # The copy's code, run by the installed `kspec` command; the built-in data in the
    # session's TFDS folder rather than the home directory.
    env = {**os.environ, "PYTHONPATH": str(project), "TFDS_DATA_DIR": data_dir}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    first = subprocess.run(_readme_first_command(), shell=True, cwd=project, env=env,
                           capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    assert LIBRARY_NOISE.findall(first.stdout + first.stderr) == [], first.stderr
    assert (project / "runs" / "lenet5" / "logs" / "kspec.log").stat().st_size > 0
    (next_line,) = [ln for ln in first.stdout.splitlines() if ln.strip().startswith("next:")]
    commands = [c.strip() for c in next_line.split("next:", 1)[1].split("|")]
    assert commands == ["kspec evaluate runs/lenet5", "kspec export runs/lenet5 --format tflite"]
    for command in commands:
        res = subprocess.run(command, shell=True, cwd=project, env=env, capture_output=True,
                             text=True, timeout=900)
        assert res.returncode == 0, (command, res.stdout, res.stderr[-3000:])
        assert LIBRARY_NOISE.findall(res.stdout + res.stderr) == [], (command, res.stderr)
    assert (project / "runs" / "lenet5" / "exports" / "model_float32.tflite").is_file()
    assert sorted(os.listdir(project / "runs" / "lenet5" / "exports")) == [
        "manifest.json", "model_float32.tflite"]
