"""The typed model of a spec's `train:` and `input:` sections (pure data, no TensorFlow).

`train.py` turns the validated values into optimizers and schedules; having the
model here lets `kspec check` find a misspelt optimizer before anything runs.
"""
from __future__ import annotations

from .argtypes import BOOL, FLOAT, FLOATS, NAMES, NONNEG_INT, POS_INT, RATE, SHAPE, Arg, enum
from .check import check_args, key_where, where_of
from .errors import ErrorSink, Where, did_you_mean, type_name
from .pretrained import APPLICATION_NAMES

OPTIMIZERS = {
    "sgd": (Arg("learning_rate", FLOAT, 0.01), Arg("momentum", FLOAT, 0.9),
            Arg("nesterov", BOOL, False)),
    "rmsprop": (Arg("learning_rate", FLOAT, 0.001), Arg("rho", FLOAT, 0.9),
                Arg("momentum", FLOAT, 0.0), Arg("epsilon", FLOAT, 1e-7)),
    "adam": (Arg("learning_rate", FLOAT, 0.001), Arg("beta_1", FLOAT, 0.9),
             Arg("beta_2", FLOAT, 0.999), Arg("epsilon", FLOAT, 1e-7)),
    "adamw": (Arg("learning_rate", FLOAT, 0.001), Arg("beta_1", FLOAT, 0.9),
              Arg("beta_2", FLOAT, 0.999), Arg("weight_decay", FLOAT, 0.004)),
}

SCHEDULES = {
    "constant": (),
    "step": (Arg("every_epochs", POS_INT, 30, "epochs between drops"),
             Arg("factor", FLOAT, 0.1, "multiplier at each drop")),
    "cosine": (Arg("final_fraction", FLOAT, 0.0, "final rate as a fraction of the first"),),
}

AUGMENT_ARGS = (
    Arg("hflip", BOOL, False, "random left-right flips (boxes and masks move too)"),
    Arg("vflip", BOOL, False, "random up-down flips"),
    Arg("crop", RATE, 0.0, "random crop of up to this fraction of each side, resized back"),
    Arg("brightness", RATE, 0.0, "random brightness change up to this amount"),
)

TRAIN_ARGS = (
    Arg("optimizer", None, "adam", "sgd, rmsprop, adam or adamw, with arguments"),
    Arg("schedule", None, "constant", "constant, step or cosine, with arguments"),
    Arg("warmup_epochs", NONNEG_INT, 0, "linear learning-rate warm-up"),
    Arg("weight_decay", FLOAT, 0.0, "L2 penalty on all kernels (decoupled for adamw)"),
    Arg("epochs", POS_INT, 10, "passes over the training split"),
    Arg("batch_size", POS_INT, 32, "global batch size (split across replicas)"),
    Arg("steps_per_epoch", NONNEG_INT, 0, "0: one pass over the data"),
    Arg("checkpoint_every", POS_INT, 200, "steps between checkpoints"),
    Arg("keep_checkpoints", POS_INT, 3, "last checkpoints kept (the best is kept too)"),
    Arg("augment", None, None, "hflip, vflip, crop, brightness"),
    Arg("freeze", NAMES, None, "layers not trained: `body` (all but the head), ids or name globs "
        "(`stage2*`); frozen batchnorm layers keep their moving statistics"),
    Arg("unfreeze_at", NONNEG_INT, 0, "after this many epochs the frozen layers train too "
        "(two-phase fine-tuning); 0: never"),
    Arg("unfreeze_lr_factor", FLOAT, 1.0, "the learning rate is multiplied by this from "
        "`unfreeze_at` on"),
)

INPUT_ARGS = (
    Arg("shape", SHAPE, doc="height, width, channels of one image"),
    Arg("rescale", FLOAT, 1 / 255, "multiplies raw pixel values"),
    Arg("mean", FLOATS, None, "subtracted after rescaling (per channel or one value)"),
    Arg("std", FLOATS, None, "divides after subtracting the mean"),
    Arg("bgr", BOOL, False, "reverse the channels (RGB -> BGR) before the mean, as caffe-trained "
        "weights expect"),
    Arg("preprocess", enum(*APPLICATION_NAMES, describe="keras.applications.NAME"), None,
        "keras.applications.NAME: rescale, mean, std and bgr exactly "
        "as that model's weights expect"),
)


def check_named_choice(value, table: dict, where: Where, path: str, sink: ErrorSink, what: str):
    """`adam` or `{adam: {learning_rate: 0.1}}`: returns (name, typed args) or None."""
    if isinstance(value, str):
        name, raw, w = value, None, where
    elif isinstance(value, dict) and len(value) == 1:
        name = next(iter(value))
        raw, w = value[name], where_of(value, name, where)
    else:
        sink.add(where.at(path), f"{what} must be a name or a one-key mapping, received "
                 f"{type_name(value)}", "for example: adam, or {sgd: {learning_rate: 0.1}}")
        return None
    if name not in table:
        kw = key_where(value, name, where) if isinstance(value, dict) else where
        sink.add(kw.at(path), f"unknown {what} '{name}'", did_you_mean(name, table))
        return None
    return name, check_args(raw, table[name], w, f"{path}.{name}", sink, what=name)


def check_train(raw, where: Where, sink: ErrorSink) -> dict:
    """Validates a `train:` mapping; returns plain typed values with defaults."""
    plain = tuple(a for a in TRAIN_ARGS if a.type is not None)
    raw = raw if raw is not None else {}
    if not isinstance(raw, dict):
        sink.add(where.at("train"), f"train must be a mapping, received {type_name(raw)}")
        return {}
    simple = {k: v for k, v in raw.items() if k not in ("optimizer", "schedule", "augment")}
    if hasattr(raw, "value_where"):
        from .yaml_loader import SpecMap
        simple = SpecMap.like(simple, raw)
    out = check_args(simple, plain, where, "train", sink, what="train")
    opt = check_named_choice(raw.get("optimizer", "adam"), OPTIMIZERS,
                             where_of(raw, "optimizer", where), "train.optimizer", sink, "optimizer")
    sched = check_named_choice(raw.get("schedule", "constant"), SCHEDULES,
                               where_of(raw, "schedule", where), "train.schedule", sink, "schedule")
    aug = check_args(raw.get("augment"), AUGMENT_ARGS, where_of(raw, "augment", where),
                     "train.augment", sink, what="augment")
    out.update(optimizer=opt and {"name": opt[0], **opt[1]},
               schedule=sched and {"name": sched[0], **sched[1]}, augment=aug)
    return out
