"""Starting from trained weights, as data: the `init:` section, `keras.applications` models
and their input preprocessing, and which layers `train.freeze` names.

Pure Python, like the rest of the validation: the weights themselves are read when
training starts (`trainer/pretrained.py`).
"""
from __future__ import annotations

import fnmatch

from .argtypes import BOOL, NAMES, STR, Arg
from .check import check_args, where_of
from .errors import ErrorSink, Where, did_you_mean, type_name
from .shapes import totals

APPLICATIONS_PREFIX = "keras.applications."

# How each keras.applications model expects its input (its module's `preprocess_input`):
# caffe: RGB -> BGR, ImageNet means subtracted, 0..255 scale; tf: scaled to [-1, 1];
# torch: [0, 1], then ImageNet mean and std; raw: 0..255 as is (the model normalises).
# A test holds this table to Keras' own functions.
PREPROCESS = {
    "caffe": {"rescale": 1.0, "mean": (103.939, 116.779, 123.68), "std": None, "bgr": True},
    "tf": {"rescale": 1 / 127.5, "mean": (1.0,), "std": None, "bgr": False},
    "torch": {"rescale": 1 / 255, "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225),
              "bgr": False},
    "raw": {"rescale": 1.0, "mean": None, "std": None, "bgr": False},
}
_FAMILIES = {
    "caffe": "VGG16 VGG19 ResNet50 ResNet101 ResNet152",
    "tf": "ResNet50V2 ResNet101V2 ResNet152V2 InceptionV3 InceptionResNetV2 Xception MobileNet "
          "MobileNetV2 NASNetMobile NASNetLarge",
    "torch": "DenseNet121 DenseNet169 DenseNet201",
    "raw": "EfficientNetB0 EfficientNetB1 EfficientNetB2 EfficientNetB3 EfficientNetB4 "
           "EfficientNetB5 EfficientNetB6 EfficientNetB7 EfficientNetV2B0 EfficientNetV2B1 "
           "EfficientNetV2B2 EfficientNetV2B3 EfficientNetV2S EfficientNetV2M EfficientNetV2L "
           "ConvNeXtTiny ConvNeXtSmall ConvNeXtBase ConvNeXtLarge ConvNeXtXLarge "
           "MobileNetV3Small MobileNetV3Large",
}
APPLICATIONS = {name: mode for mode, names in _FAMILIES.items() for name in names.split()}
APPLICATION_NAMES = tuple(APPLICATIONS_PREFIX + n for n in APPLICATIONS)

WEIGHT_FILE_SUFFIXES = (".keras", ".weights.h5", ".h5")
INIT_ARGS = (
    Arg("from", STR, doc="a kspec run directory, a .keras or .weights.h5 file, or "
        "keras.applications.NAME (ImageNet weights from Keras' cache)"),
    Arg("partial", BOOL, False, "allow a start where part of the body stays random"),
    Arg("skip", NAMES, None, "layer ids or name globs left out on purpose (re-initialised)"),
)


def application_mode(source: str) -> str | None:
    """The preprocessing mode of `keras.applications.NAME`, None for other sources."""
    if not source.startswith(APPLICATIONS_PREFIX):
        return None
    return APPLICATIONS.get(source[len(APPLICATIONS_PREFIX):])


def check_init(raw, where: Where, sink: ErrorSink) -> dict | None:
    """`init: SOURCE` or `init: {from: SOURCE, partial: bool, skip: [...]}`."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"from": raw}
    if not isinstance(raw, dict):
        sink.add(where.at("init"), f"init must be a source or a mapping, received "
                 f"{type_name(raw)}", "for example: init: keras.applications.ResNet50")
        return None
    init = check_args(raw, INIT_ARGS, where, "init", sink, what="init")
    source = init.get("from")
    if not source:
        return None
    if source.startswith(APPLICATIONS_PREFIX):
        if application_mode(source) is None:
            sink.add(where.at("init.from"), f"unknown model '{source}'",
                     did_you_mean(source, APPLICATION_NAMES))
            return None
    elif "." in source.rsplit("/", 1)[-1] and not source.endswith(WEIGHT_FILE_SUFFIXES):
        sink.add(where.at("init.from"), f"cannot read weights from '{source}'",
                 "name a run directory, a .keras or .weights.h5 file, or "
                 "keras.applications.NAME")
        return None
    return init


def preset_input(inp: dict, written: dict, where: Where, sink: ErrorSink) -> dict:
    """`input: {preprocess: keras.applications.NAME}` sets rescale, mean, std and bgr as
    that model's `preprocess_input` does; they are then not given by hand."""
    source = inp.get("preprocess")
    if source is None:
        return inp
    mode = application_mode(source)
    if mode is None:
        sink.add(where.at("input.preprocess"), f"unknown model '{source}'",
                 did_you_mean(source, APPLICATION_NAMES))
        return inp
    clash = [k for k in PREPROCESS[mode] if k in written]
    if clash:
        sink.add(where.at("input.preprocess"), f"preprocess sets {', '.join(clash)} itself",
                 f"leave {', '.join(clash)} out, or leave preprocess out")
        return inp
    return {**inp, **PREPROCESS[mode]}


def layer_refs(patterns, graph, where: Where, path: str, sink: ErrorSink) -> tuple:
    """The layer names that ids, name globs or `body` name (in model order).

    `body` is every layer but the head's. A pattern that names no layer is an error."""
    names = [n.name for n in graph.nodes]
    body = [n.name for n in graph.nodes if not n.path.startswith("head.")]
    chosen = set()
    for pattern in patterns:
        if pattern == "body":
            found = body
        elif pattern in graph.ids:
            found = [graph.ids[pattern]]
        else:
            found = fnmatch.filter(names, pattern)
        if not found:
            hint = did_you_mean(pattern, ["body"] + list(graph.ids) + names)
            if not hint.startswith("did you mean"):  # hundreds of names are no hint
                hint = "`kspec summary SPEC` lists the layer names"
            sink.add(where.at(path), f"'{pattern}' names no layer (expected `body`, a layer id "
                     "or a glob over layer names)", hint)
        chosen.update(found)
    return tuple(n for n in names if n in chosen)


def check_layer_refs(raw, graph, shapes, init, train, top, sink) -> None:
    """`train.freeze` and `init.skip` name layers: ids, name globs or `body`. Both are
    resolved to layer names once the graph (head included) is known. Freezing every
    layer that has trainable weights, with no second phase, would train nothing."""
    if train.get("freeze"):
        where = where_of(raw.get("train"), "freeze", where_of(raw, "train", top))
        train["freeze"] = layer_refs(train["freeze"], graph, where, "train.freeze", sink)
        known = shapes and all(n.name in shapes for n in graph.nodes)
        left = totals(graph, shapes, train["freeze"])["trainable"] if known else 1
        if not left and not train.get("unfreeze_at"):
            sink.add(where.at("train.freeze"), "this freezes every layer with trainable "
                     "weights: nothing would train", "freeze fewer layers, or set "
                     "train.unfreeze_at to train them after some epochs")
    if init and init["skip"]:
        where = where_of(raw.get("init"), "skip", where_of(raw, "init", top))
        init["skip"] = layer_refs(init["skip"], graph, where, "init.skip", sink)
