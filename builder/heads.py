"""Task heads as data: the layers each task puts on top of the body, and its outputs.

A head is only layers, so the builder needs no task code; `tasks/` owns what is
not layers (losses, metrics, labels, decoding). Each head's `loss` argument
lists the losses that fit its outputs, so a mismatch is a spec error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .argtypes import BOOL, FLOAT, POS_INT, RATE, Arg, enum
from .registry import ShapeMismatch

# Left out, `classes` comes from the dataset when training starts (and is written into
# the run's spec.yaml); `kspec check` then validates the body and the head's arguments.
_CLASSES_DOC = "number of classes; left out, the dataset's"
POOL = Arg("pool", enum("none", "avg", "max", "flatten"), "none",
           "how a feature map becomes a vector before the dense output")


@dataclass(frozen=True)
class HeadLayer:
    """One layer a head adds: registry type, arguments, name; `output` marks a model output."""

    type: str
    args: dict
    name: str
    output: bool = False
    source: str | None = None  # "features": the vector before the outputs; None: the previous


@dataclass(frozen=True)
class HeadType:
    name: str
    doc: str
    args: tuple
    layers: Callable  # (args, body_shape, input_shape) -> list[HeadLayer]
    check: Callable = lambda args: []  # args -> [(argument, message)] for bad combinations


HEADS: dict[str, HeadType] = {}


def register_head(head: HeadType) -> None:
    """Adds a head; a plugin module that brings a task registers its head here (and its
    task with `tasks.register_task`). Validation, `kspec check` and the reference then
    know it like a built-in one."""
    if head.name in HEADS:
        raise ValueError(f"head {head.name!r} is registered twice")
    HEADS[head.name] = head


def _pool_layers(pool: str, shape: tuple, prefix: str = "head") -> list[HeadLayer]:
    if pool == "none":
        if len(shape) != 1:
            raise ShapeMismatch(f"the head needs a vector, the body gives shape {shape}; "
                                "end the body with globalavgpool or flatten, or set head.pool")
        return []
    kind = {"avg": "globalavgpool", "max": "globalmaxpool", "flatten": "flatten"}[pool]
    return [HeadLayer(kind, {}, f"{prefix}_pool")]


def _dense(units, activation, name, output=True, source=None):
    return HeadLayer("dense", {"units": units, "activation": activation, "use_bias": True,
                               "kernel_init": "glorot_uniform", "bias_init": "zeros",
                               "l1": 0.0, "l2": 0.0}, name, output, source)


def _dropout(rate):
    return [HeadLayer("dropout", {"rate": rate}, "head_dropout")] if rate else []


register_head(HeadType(
    "none", "no head: the body's output is the model's output (encoders, feature extractors)",
    (Arg("loss", enum("none", "mse", "mae"), "none", "loss, if trained directly"),),
    lambda a, body, inp: []))

def _check_classification(a) -> list:
    """Output activation, loss and label format must fit together."""
    problems = []
    if a["activation"] == "softmax" and a["classes"] == 1:
        problems.append(("activation", "softmax over one unit always outputs 1; use "
                         "activation: sigmoid with loss: binary_cross_entropy"))
    elif a["activation"] == "softmax" and a["loss"] == "binary_cross_entropy":
        problems.append(("loss", "binary_cross_entropy needs independent outputs: set "
                         "activation: sigmoid, or use loss: cross_entropy"))
    if a["activation"] == "sigmoid" and a["loss"] == "cross_entropy":
        problems.append(("loss", "sigmoid outputs are trained with binary_cross_entropy; "
                         "cross_entropy expects a softmax over classes"))
    return problems


register_head(HeadType(
    "classification", "one label per image: softmax (or sigmoid for multi-label) over classes",
    (Arg("classes", POS_INT, None, _CLASSES_DOC),
     Arg("activation", enum("softmax", "sigmoid"), "softmax", "sigmoid: independent labels"),
     Arg("loss", enum("cross_entropy", "binary_cross_entropy"), "cross_entropy", "training loss"),
     Arg("label_smoothing", RATE, 0.0, "label smoothing for cross-entropy"),
     POOL, Arg("dropout", RATE, 0.0, "dropout before the output"),
     Arg("project", BOOL, True, "add the dense output layer (false: the body ends with "
         "`classes` features, as in Network-in-Network)")),
    lambda a, body, inp: _pool_layers(a["pool"], body) + _dropout(a["dropout"])
    + _class_output(a, body), _check_classification))



def _class_output(a, body):
    if a["project"]:
        return [_dense(a["classes"], a["activation"], "predictions")]
    if body[-1] != a["classes"]:
        raise ShapeMismatch(f"with project: false the body must end with {a['classes']} "
                            f"features, it gives {body[-1]}")
    return [HeadLayer(a["activation"], {}, "predictions", True)]

register_head(HeadType(
    "regression", "real-valued outputs",
    (Arg("units", POS_INT, 1, "number of outputs"),
     Arg("activation", enum("linear", "sigmoid"), "linear", "output activation"),
     Arg("loss", enum("mse", "mae"), "mse", "training loss"), POOL),
    lambda a, body, inp: _pool_layers(a["pool"], body)
    + [_dense(a["units"], a["activation"], "values")]))

_BOX_LOSS = Arg("box_loss", enum("mse", "iou", "mse_iou"), "mse_iou",
                "box loss: mean squared error, 1 - IoU, or both")

register_head(HeadType(
    "localization", "one box per image: (x_center, y_center, width, height) in [0, 1]",
    (_BOX_LOSS, POOL),
    lambda a, body, inp: _pool_layers(a["pool"], body) + [_dense(4, "sigmoid", "box")]))

register_head(HeadType(
    "classification_localization", "a class and a box per image from one body",
    (Arg("classes", POS_INT, None, _CLASSES_DOC), _BOX_LOSS,
     Arg("class_weight", FLOAT, 1.0, "weight of the class loss"),
     Arg("box_weight", FLOAT, 1.0, "weight of the box loss"), POOL),
    lambda a, body, inp: _pool_layers(a["pool"], body)
    + [_dense(a["classes"], "softmax", "class"), _dense(4, "sigmoid", "box", source="features")]))


def _conv1x1(filters, activation, name, output=True):
    return HeadLayer("conv", {"filters": filters, "kernel": (1, 1), "strides": (1, 1),
                              "padding": "same", "dilation": (1, 1), "groups": 1,
                              "activation": activation, "use_bias": True,
                              "kernel_init": "glorot_uniform", "bias_init": "zeros",
                              "l1": 0.0, "l2": 0.0}, name, output)


def _grid_head(a, body, inp):
    if len(body) != 3:
        raise ShapeMismatch(f"detection needs a feature map (grid), the body gives {body}")
    return [_conv1x1(5 + a["classes"], "linear", "grid")]


register_head(HeadType(
    "detection", "one-stage grid detector: per cell objectness, box and class (YOLO-style)",
    (Arg("classes", POS_INT, None, _CLASSES_DOC),
     Arg("max_boxes", POS_INT, 20, "boxes kept after non-maximum suppression"),
     Arg("iou_threshold", FLOAT, 0.5, "NMS overlap threshold"),
     Arg("score_threshold", FLOAT, 0.3, "minimum score of a kept box")),
    _grid_head))


def _mask_head(a, body, inp):
    if len(body) != 3:
        raise ShapeMismatch(f"mask detection needs a feature map, the body gives {body}")
    # Logits: a sigmoid output saturates and its clipped loss stops learning (tasks/).
    return [_conv1x1(a["classes"], "linear", "mask_logits")]


register_head(HeadType(
    "mask_detection", "detection by masks (Szegedy et al. 2013): per class, a low-resolution "
    "mask of where its objects are; each connected region of a mask is one box",
    (Arg("classes", POS_INT, None, _CLASSES_DOC),
     Arg("threshold", RATE, 0.5, "mask probability from which a cell belongs to an object"),
     Arg("min_cells", POS_INT, 1, "the fewest cells a region needs to count as an object"),
     Arg("shrink", FLOAT, 1.0, "masks cover each box shrunk about its centre by this factor "
         "(1: the whole object, as in the paper; below 1, touching objects stay apart)"),
     Arg("loss", enum("binary_cross_entropy", "binary_cross_entropy_dice"),
         "binary_cross_entropy_dice",
         "per-cell binary cross-entropy, plus Dice per class (objects cover few cells)")),
    _mask_head,
    lambda a: [] if 0 < a["shrink"] <= 1 else [("shrink", f"shrink must be in (0, 1], "
                                                          f"received {a['shrink']}")]))


def _dense_map_head(channels, activation, name, project):
    def layers(a, body, inp):
        if len(body) != 3:
            raise ShapeMismatch(f"a per-pixel head needs a feature map, the body gives {body}")
        if body[:2] != tuple(inp[:2]):
            raise ShapeMismatch(f"the body's output {body[:2]} must match the input size "
                                f"{tuple(inp[:2])}; upsample in the body")
        n = channels(a, inp)
        if not a[project]:
            if body[2] != n:
                raise ShapeMismatch(f"with {project}: false the body must end with {n} channels, "
                                    f"it gives {body[2]}")
            return [HeadLayer(activation, {}, name, True)] if activation != "linear" else []
        return [_conv1x1(n, activation, name)]
    return layers


register_head(HeadType(
    "segmentation", "a class per pixel: softmax over classes at the input resolution",
    (Arg("classes", POS_INT, None, _CLASSES_DOC + " (background included)"),
     Arg("loss", enum("cross_entropy", "dice", "jaccard", "cross_entropy_dice",
                      "cross_entropy_jaccard"), "cross_entropy", "training loss"),
     Arg("project", BOOL, True, "add a 1x1 conv to `classes` channels (false: the body did)")),
    _dense_map_head(lambda a, inp: a["classes"], "softmax", "mask", "project")))

register_head(HeadType(
    "autoencoder", "reconstructs the input image (encoding by an hourglass body)",
    (Arg("loss", enum("mse", "mae"), "mse", "reconstruction loss"),
     Arg("project", BOOL, True, "add a 1x1 conv to the input's channels")),
    _dense_map_head(lambda a, inp: inp[2], "sigmoid", "reconstruction", "project")))
