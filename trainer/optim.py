"""Optimizers and learning-rate schedules from the spec's validated `train:` section."""
from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kspec")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then constant, step or cosine decay; one class for all three."""

    def __init__(self, base, total_steps, warmup_steps=0, kind="constant", every_steps=1,
                 factor=0.1, final_fraction=0.0):
        self.base, self.total_steps, self.warmup_steps = base, total_steps, warmup_steps
        self.kind, self.every_steps, self.factor = kind, every_steps, factor
        self.final_fraction = final_fraction
        # Two-phase fine-tuning multiplies the rate in its second phase. Read when the step
        # is traced, and the step is traced again whenever the phase changes.
        self.scale = 1.0

    def __call__(self, step):
        step = ops.cast(step, "float32")
        lr = ops.convert_to_tensor(self.base * self.scale, "float32")
        if self.kind == "step":
            lr = lr * ops.power(self.factor, ops.floor(step / max(self.every_steps, 1)))
        elif self.kind == "cosine":
            span = max(self.total_steps - self.warmup_steps, 1)
            t = ops.clip((step - self.warmup_steps) / span, 0.0, 1.0)
            cos = 0.5 * (1 + ops.cos(math.pi * t))
            lr = lr * (self.final_fraction + (1 - self.final_fraction) * cos)
        if self.warmup_steps:
            lr = lr * ops.minimum(1.0, (step + 1) / self.warmup_steps)
        return lr

    def get_config(self):
        return {k: getattr(self, k) for k in ("base", "total_steps", "warmup_steps", "kind",
                                              "every_steps", "factor", "final_fraction")}


def make_schedule(train: dict, steps_per_epoch: int):
    sched = train["schedule"]
    kind = sched["name"]
    return WarmupSchedule(
        base=train["optimizer"]["learning_rate"],
        total_steps=train["epochs"] * steps_per_epoch,
        warmup_steps=train["warmup_epochs"] * steps_per_epoch, kind=kind,
        every_steps=sched.get("every_epochs", 1) * steps_per_epoch,
        factor=sched.get("factor", 0.1), final_fraction=sched.get("final_fraction", 0.0))


def make_optimizer(train: dict, steps_per_epoch: int, precision: str, schedule=None):
    opt = dict(train["optimizer"])
    name = opt.pop("name")
    opt["learning_rate"] = schedule or make_schedule(train, steps_per_epoch)
    if name == "sgd":
        optimizer = keras.optimizers.SGD(**opt)
    elif name == "rmsprop":
        optimizer = keras.optimizers.RMSprop(**opt)
    elif name == "adam":
        optimizer = keras.optimizers.Adam(**opt)
    else:
        if train["weight_decay"]:
            opt["weight_decay"] = train["weight_decay"]
        optimizer = keras.optimizers.AdamW(**opt)
    if precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def l2_penalty(model, train: dict):
    """Coupled weight decay (0.5 * wd * sum of squared kernels); adamw decouples it instead."""
    wd = train["weight_decay"]
    if not wd or train["optimizer"]["name"] == "adamw":
        return None
    def penalty():  # over what trains when the step is traced (frozen layers change that)
        kernels = [v for v in model.trainable_variables if v.path.endswith("kernel")]
        if not kernels:
            return ops.convert_to_tensor(0.0, "float32")
        return 0.5 * wd * ops.sum(ops.stack([ops.sum(ops.square(ops.cast(k, "float32")))
                                             for k in kernels]))
    return penalty
