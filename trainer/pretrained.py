"""Starting a run from trained weights (`init:` / `--init`): read, match, copy, report.

Sources: a kspec run directory (its best weights), a `.keras` file, a `.weights.h5`
(or Keras 2 `.h5`) file, or `keras.applications.NAME` read from Keras' cache.
Matching goes by layer name first, then by position among the layers of the same
type for models of the same structure, and always by shape: arrays whose shapes
differ (a head with other classes) stay as initialised. Nothing is ever downloaded,
and every file is checked (`rundir/weights_files.py`) before an array of it is read.
"""
from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field

import numpy as np

from builder.pretrained import APPLICATIONS_PREFIX, PREPROCESS, application_mode
from rundir.weights_files import H5_ERRORS, WeightsFileError, checked_copy, is_bfloat16


class InitError(Exception):
    """A source that cannot be read or has too little in common (exit 2)."""


@dataclass
class SourceLayer:
    """The arrays of one layer of the source, in the layer's own order."""

    name: str | None  # None where the file keeps no layer names (Keras 3 .weights.h5)
    kind: str  # the layer type in Keras' file naming ("conv2d", "batch_normalization")
    arrays: list


@dataclass
class Plan:
    """Which target layer gets which source arrays, and what stays new."""

    pairs: list = field(default_factory=list)  # (target layer, SourceLayer)
    new: list = field(default_factory=list)  # target layers left as initialised
    skipped: list = field(default_factory=list)  # target layers `init.skip` names


def snake(class_name: str) -> str:
    """A layer class as Keras names it in weight files (`BatchNormalization` ->
    `batch_normalization`, `Conv2D` -> `conv2d`)."""
    text = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", text).lower()


# -- reading sources ---------------------------------------------------------------------
def read_source(source: str) -> list[SourceLayer]:
    if source.startswith(APPLICATIONS_PREFIX):
        return _from_model(_application(source[len(APPLICATIONS_PREFIX):]))
    if os.path.isdir(source):
        from rundir.loader import RunError, load_run
        try:
            return _from_model(load_run(source).model)
        except RunError as exc:
            raise InitError(str(exc)) from None
    if not os.path.isfile(source):
        raise InitError(f"init: {source}: no such file or run directory")
    try:
        with checked_copy(source) as copy:  # checked before anything reads an array
            return _from_keras(copy, source) if source.endswith(".keras") else \
                _from_h5(copy, source)
    except WeightsFileError as exc:
        raise InitError(f"init: {exc}") from None


def _from_keras(path: str, source: str) -> list[SourceLayer]:
    import keras

    import builder.keras_layers  # noqa: F401  kspec's own layers register on import
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # a damaged or foreign file: many kinds of error
        raise InitError(f"init: {source} cannot be loaded as a Keras model "
                        f"({_first_line(exc)})") from None
    return _from_model(model)


def _from_model(model) -> list[SourceLayer]:
    return [SourceLayer(layer.name, snake(type(layer).__name__),
                        [np.asarray(w) for w in layer.get_weights()])
            for layer in _weighted_layers(model)]


def _weighted_layers(model) -> list:
    return [layer for layer in model.layers if layer.weights]


def _from_h5(path: str, source: str) -> list[SourceLayer]:
    """Keras 3 `.weights.h5` (layers keyed by type and count: `conv2d`, `conv2d_1`) or a
    Keras 2 weights file (`layer_names` with `weight_names`, as keras.applications ships).
    `path` is the checked copy of `source`."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            if "layer_names" in f.attrs:
                out = []
                for name in map(_text, np.atleast_1d(f.attrs["layer_names"])):
                    names = np.atleast_1d(f[name].attrs.get("weight_names", []))
                    weights = [_array(f[name][_text(w)]) for w in names]
                    if weights:
                        out.append(SourceLayer(name, "", weights))
                return out
            if "layers" in f:
                return _keras3_layers(f["layers"])
    except H5_ERRORS as exc:
        raise InitError(f"init: {source} is not a readable weights file "
                        f"({_first_line(exc)})") from None
    raise InitError(f"init: {source} holds no layer weights Keras would write")


def _array(dataset) -> np.ndarray:
    import h5py
    if not isinstance(dataset, h5py.Dataset):
        raise ValueError(f"{dataset.name} is a group where weights were expected")
    if is_bfloat16(dataset):
        import ml_dtypes
        return np.asarray(dataset).view(ml_dtypes.bfloat16)
    return np.asarray(dataset)


def _keras3_layers(group) -> list[SourceLayer]:
    def order(key):
        base, _, n = key.rpartition("_")
        return (base, int(n)) if n.isdigit() and base else (key, 0)
    out = []
    for key in sorted(group, key=order):
        entry = group[key]
        if "vars" in entry and len(entry["vars"]):
            arrays = [_array(entry["vars"][str(i)]) for i in range(len(entry["vars"]))]
            out.append(SourceLayer(None, order(key)[0], arrays))
        if "layers" in entry:  # a model nested in the model
            out += _keras3_layers(entry["layers"])
    return out


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# -- keras.applications, offline ---------------------------------------------------------------
class _Missing(Exception):
    def __init__(self, fname: str, origin: str, folder: str):
        super().__init__(fname)
        self.fname, self.origin, self.folder = fname, origin, folder


def _cache_folders() -> list[str]:
    """Where Keras keeps downloads (`KERAS_HOME`, else ~/.keras; /tmp/.keras if that
    folder is not writable), each with its `models/` subfolder."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return [os.path.join(home, "models"), os.path.join("/tmp", ".keras", "models")]


@contextlib.contextmanager
def _cache_only(used: list):
    """keras.applications downloads a missing weights file by itself; kspec must never
    download, and must name the file it looked for. Keras has no hook for that, so its
    `get_file` is replaced while the model is built: a cached file is used through its
    checked private copy (its hash is not checked: a user's own copy is allowed), a
    missing one raises `_Missing`. The cached paths are appended to `used`."""
    from keras.src.utils import file_utils
    original = file_utils.get_file
    copies = contextlib.ExitStack()

    def cached(fname=None, origin=None, *args, cache_subdir="datasets", **kwargs):
        fname = fname or os.path.basename(origin or "")
        folders = _cache_folders()
        for folder in folders:
            path = os.path.join(folder, fname)
            if os.path.isfile(path):
                used.append(path)
                # Keras reads what is returned: the checked copy, kept until it is built.
                return copies.enter_context(checked_copy(path))
        raise _Missing(fname, origin or "", folders[0])

    file_utils.get_file = cached
    try:
        with copies:
            yield
    finally:
        file_utils.get_file = original


def _application(name: str):
    """The keras.applications model with its ImageNet weights, from Keras' cache: the file
    with the classifier if it is there, else the one without (`_notop`)."""
    import keras
    build = getattr(keras.applications, name)
    missing, used = [], []
    for include_top in (True, False):
        try:
            with _cache_only(used):
                return build(weights="imagenet", include_top=include_top)
        except _Missing as exc:
            missing.append(exc)
        except WeightsFileError as exc:
            raise InitError(f"init: {exc.path} (Keras' cached weights for {APPLICATIONS_PREFIX}"
                            f"{name}) cannot be read ({exc.reason}); it may be a download "
                            "that was cut short: copy it again") from None
        except Exception as exc:  # h5py and Keras raise many kinds for a damaged file
            if not used:
                raise
            raise InitError(f"init: {used[-1]} (Keras' cached weights for {APPLICATIONS_PREFIX}"
                            f"{name}) cannot be read ({_first_line(exc)}); it may be a download "
                            "that was cut short: copy it again") from None
    files = " or ".join(m.fname for m in missing)
    raise InitError(
        f"init: {APPLICATIONS_PREFIX}{name} needs Keras' ImageNet weights file {files} in "
        f"{missing[0].folder} (set KERAS_HOME to use another folder), and nothing is "
        f"downloaded here. Fetch it where there is a network from {missing[0].origin} (or "
        f"run `keras.applications.{name}()` there once) and copy it to that folder")


# -- matching -----------------------------------------------------------------------------------
def plan(model, source: list[SourceLayer], skip=()) -> Plan:
    """Name first, then position within each layer type, always by shape."""
    p = Plan()
    targets = []
    for layer in _weighted_layers(model):
        (p.skipped if layer.name in skip else targets).append(layer)
    by_name = {s.name: s for s in source if s.name}
    used, rest = set(), []
    for layer in targets:
        match = by_name.get(layer.name)
        if match is None:
            rest.append(layer)
        elif _fits(layer, match):
            p.pairs.append((layer, match))
            used.add(id(match))
        else:  # the same layer with another shape (a head with other classes): new
            p.new.append(layer)
            used.add(id(match))
    left = [s for s in source if id(s) not in used]
    if all(not s.kind for s in left):  # a Keras 2 file names no types: one sequence
        groups = [(rest, left)]
    else:
        kinds = dict.fromkeys(snake(type(layer).__name__) for layer in rest)
        groups = [([layer for layer in rest if snake(type(layer).__name__) == kind],
                   [s for s in left if s.kind == kind]) for kind in kinds]
    for mine, theirs in groups:
        for i, layer in enumerate(mine):
            # Position pairs only while the structures agree: after the first layer whose
            # shapes differ, the rest cannot be trusted to correspond.
            if i < len(theirs) and _fits(layer, theirs[i]):
                p.pairs.append((layer, theirs[i]))
                continue
            p.new += mine[i:]
            break
    order = {id(layer): i for i, layer in enumerate(_weighted_layers(model))}
    p.pairs.sort(key=lambda pair: order[id(pair[0])])
    p.new.sort(key=lambda layer: order[id(layer)])
    return p


def _fits(layer, source: SourceLayer) -> bool:
    return [tuple(w.shape) for w in layer.weights] == [a.shape for a in source.arrays]


# -- applying -----------------------------------------------------------------------------------
def initialise(model, spec, source: str, say) -> dict:
    """Copies the matched arrays into `model`; returns the report run.json records.

    Raises InitError when nothing matches, or when part of the body would stay random
    and `init: {partial: true}` does not allow it."""
    init = spec.init
    p = plan(model, read_source(source), init.get("skip") or ())
    total = sum(len(layer.weights) for layer in _weighted_layers(model))
    copied = sum(len(src.arrays) for _, src in p.pairs)
    if not p.pairs:
        raise InitError(f"init: {source} has no layer in common with {spec.name} (no name "
                        "or position where the shapes agree)")
    head = {n.name for n in spec.graph.nodes if n.path.startswith("head.")}
    body_new = [layer.name for layer in p.new if layer.name not in head]
    if body_new and not init.get("partial"):
        shown = ", ".join(body_new[:5]) + (f" and {len(body_new) - 5} more" if len(body_new) > 5
                                           else "")
        raise InitError(f"init: {source} leaves {len(body_new)} body layer(s) of {spec.name} "
                        f"without weights ({shown}); set init: {{from: {source}, partial: "
                        "true} to start them from random, or init.skip to name them")
    for layer, src in p.pairs:
        layer.set_weights(src.arrays)
    new = [f"{layer.name} ({', '.join('x'.join(map(str, w.shape)) for w in layer.weights)})"
           for layer in p.new]
    line = f"initialised {copied} of {total} arrays from {source}"
    say(line + (f"; new: {', '.join(new)}" if new else "")
        + (f"; skipped: {', '.join(layer.name for layer in p.skipped)}" if p.skipped else ""))
    for note in preprocess_notes(spec, source):
        say(f"note: {note}")
    return {"from": source, "arrays": total, "initialised": copied, "new": new,
            "skipped": [layer.name for layer in p.skipped]}


def preprocess_notes(spec, source: str) -> list[str]:
    """The input normalisation the source's weights expect, if the spec's differs."""
    mode = application_mode(source)
    if mode is None:
        return []
    want, inp = PREPROCESS[mode], spec.input
    same = all(_close(inp.get(k), v) for k, v in want.items() if k != "bgr") and \
        bool(inp.get("bgr")) == want["bgr"]
    if same:
        return []
    return [f"{source}'s weights expect {mode} preprocessing (rescale {want['rescale']:.6g}, "
            f"mean {want['mean']}, std {want['std']}, bgr {want['bgr']}) but the spec's input "
            f"differs; set input: {{preprocess: {source}}} to match"]


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return np.allclose(np.atleast_1d(a), np.atleast_1d(b))


def _first_line(exc) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]

