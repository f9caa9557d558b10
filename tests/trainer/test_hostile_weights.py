"""Hostile `init:` sources through the real readers: every kind of weights file (a Keras 3
`.weights.h5`, a Keras 2 `.h5`, a `.keras` archive, Keras' cached `keras.applications`
file, a run directory's `model.keras`) is refused before an array is read, the marker
file it points at never reaches a weight, `kspec train --init` ends in exit 2, and the
large declarations stay within a memory limit."""
import os
import resource
import subprocess
import sys

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rundir.weights_files import RESAVE
from tests.conftest import ROOT, run
from tests.rundir.test_weights_files import (EDITS, MARKER, Bases, declare_size, h5,
                                             keras_zip, marker, mutate, real_weights)
from trainer.pretrained import InitError, read_source

__all__ = ["marker"]  # the fixture, shared with the checker's own tests
MLP = ("name: mlp\ninput: {shape: [2]}\nlayers: [dense: {units: 4, activation: tanh}]\n"
       "head: {task: classification, classes: 1, activation: sigmoid, "
       "loss: binary_cross_entropy}\ntrain: {epochs: 1, batch_size: 4}\n")
EXT = "keeps its data in another file ({marker}; HDF5 external storage); " + RESAVE


def external(marker, name="layers/conv2d/vars/0"):
    """A Keras 3 weights file whose one array is read from `marker` (HDF5 external storage)."""
    return lambda f: f.create_dataset(name, shape=(len(MARKER),), dtype="u1",
                                      external=[(marker, 0, len(MARKER))])


def keras2_external(marker):
    """A Keras 2 weights file (`layer_names`, `weight_names`) whose kernel is the marker."""
    def build(f):
        group = f.create_group("conv")
        f.attrs["layer_names"] = [b"conv"]
        group.attrs["weight_names"] = [b"conv/kernel:0"]
        group.create_dataset("conv/kernel:0", shape=(len(MARKER),), dtype="u1",
                             external=[(marker, 0, len(MARKER))])
    return build


def init_error(source) -> str:
    with pytest.raises(InitError) as info:
        read_source(str(source))
    return str(info.value)


def test_each_file_source_refuses_external_storage(tmp_path, marker):
    weights = h5(tmp_path / "ext.weights.h5", external(marker))
    assert init_error(weights) == f"init: {weights}: dataset /layers/conv2d/vars/0 " + \
        EXT.format(marker=marker)
    old = h5(tmp_path / "old.h5", keras2_external(marker))
    with h5py.File(old) as f:  # trusted, the file hands out the marker as a kernel
        assert bytes(f["conv/conv/kernel:0"][()]) == MARKER
    assert init_error(old) == f"init: {old}: dataset /conv/conv/kernel:0 " + \
        EXT.format(marker=marker)
    archive = keras_zip(tmp_path / "ext.keras", weights)
    assert init_error(archive) == (f"init: {archive} (model.weights.h5): dataset "
                                   "/layers/conv2d/vars/0 " + EXT.format(marker=marker))


def test_keras_cached_applications_file_is_checked(tmp_path, marker, monkeypatch):
    cache = tmp_path / "home" / "models"
    cache.mkdir(parents=True)
    cached = h5(cache / "mobilenet_1_0_224_tf.h5", keras2_external(marker))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    assert init_error("keras.applications.MobileNet") == (
        f"init: {cached} (Keras' cached weights for keras.applications.MobileNet) cannot be "
        "read (dataset /conv/conv/kernel:0 " + EXT.format(marker=marker) + "); it may be a "
        "download that was cut short: copy it again")


def test_large_declarations_are_refused(tmp_path):
    big = h5(tmp_path / "big.weights.h5", lambda f: f.create_dataset(
        "layers/dense/vars/0", shape=(10**12,), dtype="f4", chunks=(1024,)))
    assert init_error(big).startswith(f"init: {big}: dataset /layers/dense/vars/0 declares "
                                      "3.6 TB (shape (1000000000000,), float32) but the file "
                                      "stores 0 bytes of it")
    bomb = keras_zip(tmp_path / "bomb.keras", h5(tmp_path / "w.h5", real_weights))
    declare_size(bomb, "model.weights.h5", 0xFFFFFFF0)
    assert init_error(bomb).startswith(f"init: {bomb}: model.weights.h5 in the archive "
                                       "declares 4.0 GB from ")


def test_a_run_directorys_model_keras_is_checked(tmp_path, marker):
    """`load_run` falls back to model.keras where no checkpoint is left."""
    import shutil

    from rundir.loader import RunError, load_run
    spec = tmp_path / "mlp.yaml"
    spec.write_text(MLP)
    run_dir = tmp_path / "run"
    res = run([sys.executable, str(ROOT / "train.py"), str(spec), "--data", "xor", "--out",
               str(run_dir), "--no-xla", "--quiet"])
    assert res.returncode == 0, res.stderr
    shutil.rmtree(run_dir / "checkpoints")
    weights = h5(tmp_path / "w.h5", external(marker, "layers/dense/vars/0"))
    (run_dir / "model.keras").unlink()
    keras_zip(run_dir / "model.keras", weights)
    with pytest.raises(RunError) as info:
        load_run(str(run_dir))
    assert str(info.value) == (f"{run_dir}/model.keras (model.weights.h5): dataset "
                               "/layers/dense/vars/0 " + EXT.format(marker=marker))


def test_kspec_train_init_with_external_storage_is_exit_2(tmp_path, marker):
    spec = tmp_path / "mlp.yaml"
    spec.write_text(MLP)
    weights = h5(tmp_path / "ext.weights.h5", external(marker))
    res = run([sys.executable, str(ROOT / "train.py"), str(spec), "--data", "xor", "--out",
               str(tmp_path / "run"), "--no-xla", "--init", weights])
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr.strip().splitlines()[-1] == (
        f"kspec train: init: {weights}: dataset /layers/conv2d/vars/0 "
        + EXT.format(marker=marker))
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()


# What reading these takes without the checks: a 2 GB array of fill values from a file of a
# few KB, and a 4 GB member read into memory. Under a 1.5 GB address-space limit (the check
# with h5py and numpy peaks at about 170 MB, measured) both must end in the message
# instead; through `kspec train`, with TensorFlow, under 3 GB.
LIMIT = 1536 << 20
CLI_LIMIT = 3 << 30
CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from trainer.pretrained import InitError, read_source
try:
    read_source(sys.argv[1])
except InitError as exc:
    print(exc)
"""


def _limited(path, raw=False):
    code = ("import resource, sys, h5py, numpy as np\n"
            f"resource.setrlimit(resource.RLIMIT_AS, ({LIMIT}, {LIMIT}))\n"
            "with h5py.File(sys.argv[1]) as f: np.asarray(f['layers/dense/vars/0'])\n"
            if raw else CHILD.format(limit=LIMIT))
    return subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_large_declarations_stay_within_a_memory_limit(tmp_path):
    two_gb = h5(tmp_path / "2gb.weights.h5", lambda f: f.create_dataset(
        "layers/dense/vars/0", shape=(2**29,), dtype="f4", chunks=(1 << 16,)))
    assert os.path.getsize(two_gb) < 8000
    assert "MemoryError" in _limited(two_gb, raw=True).stderr  # the limit is real
    res = _limited(two_gb)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"init: {two_gb}: dataset /layers/dense/vars/0 declares "
                                 "2.0 GB (shape (536870912,), float32) but the file stores "
                                 "0 bytes of it")
    bomb = keras_zip(tmp_path / "bomb.keras", h5(tmp_path / "w.h5", real_weights))
    declare_size(bomb, "model.weights.h5", 0xFFFFFFF0)
    res = _limited(bomb)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"init: {bomb}: model.weights.h5 in the archive declares "
                                 "4.0 GB")
    spec = tmp_path / "mlp.yaml"
    spec.write_text(MLP)
    res = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), str(spec), "--data", "xor", "--out",
         str(tmp_path / "run"), "--no-xla", "--init", two_gb], cwd=ROOT, capture_output=True,
        text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (CLI_LIMIT, CLI_LIMIT)))
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr.strip().splitlines()[-1].startswith(
        f"kspec train: init: {two_gb}: dataset /layers/dense/vars/0 declares 2.0 GB")


# -- fuzz: damaged files through the real reader ---------------------------------------------
@pytest.fixture(scope="module")
def sources(tmp_path_factory, marker):
    import keras
    folder = tmp_path_factory.mktemp("sources")
    x = inp = keras.Input((4, 4, 1))
    x = keras.layers.Conv2D(2, 3)(x)
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    model.save(folder / "m.keras")
    model.save_weights(folder / "m.weights.h5")
    return Bases(keras=(folder / "m.keras").read_bytes(),
                 h5=open(h5(folder / "old.h5", keras2_external(marker)), "rb").read(),
                 **{"weights.h5": (folder / "m.weights.h5").read_bytes()})


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["keras", "weights.h5", "h5"]), edits=EDITS,
       cut=st.none() | st.integers(0, 30000))
@example(kind="keras", edits=[], cut=None)
@example(kind="h5", edits=[], cut=None)
def test_damaged_sources_end_in_layers_or_an_init_error(tmp_path, sources, kind, edits, cut):
    path = tmp_path / f"f.{kind}"
    path.write_bytes(mutate(sources[kind], edits, cut))
    try:
        layers = read_source(str(path))
    except InitError as exc:
        assert str(exc).startswith(f"init: {path}") and len(str(exc)) > len(str(path)) + 16
        return
    for layer in layers:
        for array in layer.arrays:
            assert MARKER not in np.asarray(array).tobytes()


def test_bfloat16_weights_as_keras_writes_them_are_read(tmp_path):
    """Keras keeps bfloat16 as 2-byte opaque values with a `dtype` attribute: numbers."""
    import keras
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, dtype="bfloat16")])
    model.save_weights(tmp_path / "bf.weights.h5")
    (layer,) = read_source(str(tmp_path / "bf.weights.h5"))
    assert [a.dtype.name for a in layer.arrays] == ["bfloat16", "bfloat16"]
    for got, want in zip(layer.arrays, model.layers[0].get_weights()):
        np.testing.assert_array_equal(got, want)
