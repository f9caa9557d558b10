"""The `kspec train` / `python train.py` options (as the README lists them)."""
from __future__ import annotations

import argparse
import json
import os

from builder.untrusted import data_dir_option

EXIT_PREEMPTED = 75  # SIGTERM: state saved; run the same command again to resume


def _count(text: str) -> int:
    """An integer >= 0 (argparse turns the ValueError into an exit-2 message)."""
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


_count.__name__ = "integer >= 0"  # argparse names the type in its message

MAX_SEED = 2 ** 32 - 1  # NumPy's seeds are 32-bit; a larger one fails after the spec loads
MAX_LOGICAL_CPUS = 64  # enough to try distribution; 100,000 devices never finish starting


def _bounded(highest: int, name: str):
    """An argparse type: an integer from 0 to `highest`, named `name` in its message."""
    def parse(text: str) -> int:
        value = _count(text)
        if value > highest:
            raise ValueError(text)
        return value
    parse.__name__ = name
    return parse


def plugin_module(text: str) -> str:
    """A `--plugin` value: something to import, so never empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "needs a module name (my_layers) or a Python file (path/to/my_layers.py)")
    return text


def _source(text: str) -> str:
    if not text.strip():
        raise ValueError(text)
    return text


_source.__name__ = "weights source"


def add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="the model spec (YAML)")
    p.add_argument("--data", default="shapes",
                   help="shapes (built-in, default), shapes/multi, xor, a TFDS name, or a folder")
    p.add_argument("--data-dir", default=None, type=data_dir_option,
                   help="TFDS data directory (prepared datasets)")
    p.add_argument("--epochs", type=int, default=None, help="overrides train.epochs")
    p.add_argument("--batch-size", type=int, default=None, help="global batch; train.batch_size")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="cap steps in an epoch")
    p.add_argument("--out", default=None, metavar="RUN_DIR", help="run directory (runs/NAME)")
    p.add_argument("--init", default=None, metavar="SOURCE", type=_source,
                   help="start from these weights (replaces the spec's init:): a run directory, "
                   "a .keras or .weights.h5 file, or keras.applications.NAME")
    p.add_argument("--precision", default="float32",
                   choices=["float32", "mixed_float16", "mixed_bfloat16"])
    p.add_argument("--xla", default="auto", choices=["auto", "on", "off"],
                   help="compile the training step with XLA. auto (default): on with a GPU or "
                   "TPU; on CPUs, where it is faster for some models only, a run of a minute "
                   "or more times its first steps both ways and keeps the faster")
    p.add_argument("--no-xla", dest="xla", action="store_const", const="off",
                   help="the same as --xla off")
    p.add_argument("--strategy", default="auto", choices=["auto", "one", "mirrored", "multiworker"])
    p.add_argument("--logical-cpus", default=0,
                   type=_bounded(MAX_LOGICAL_CPUS, f"integer from 0 to {MAX_LOGICAL_CPUS}"),
                   help="split the CPU into N logical devices (to try distribution on a CPU)")
    p.add_argument("--seed", default=0, type=_bounded(MAX_SEED, f"integer from 0 to {MAX_SEED}"),
                   help=f"random seed (an integer from 0 to {MAX_SEED})")
    p.add_argument("--deterministic", action="store_true",
                   help="op determinism and seeded everything: identical weights run to run")
    p.add_argument("--resume", dest="resume", action="store_true", default=True,
                   help="resume from RUN_DIR's checkpoint (the default)")
    p.add_argument("--restart", dest="resume", action="store_false",
                   help="ignore existing checkpoints in RUN_DIR and start over")
    p.add_argument("--quiet", action="store_true", help="print only the final summary")


def overrides_from(args) -> list:
    """The overrides the options stand for: `--epochs 3` is `train.epochs=3`. Each is an
    (option, "key=value") pair, so that its errors name `--epochs`, not `--set`."""
    sets = list(args.set)
    for option, key in (("epochs", "train.epochs"), ("batch_size", "train.batch_size"),
                        ("steps_per_epoch", "train.steps_per_epoch")):
        if getattr(args, option) is not None:
            sets.append((f"--{option.replace('_', '-')}", f"{key}={getattr(args, option)}"))
    if getattr(args, "init", None):
        source = args.init
        if not source.startswith("keras.applications."):
            source = os.path.abspath(source)  # from the working directory, as --data
        sets.append(("--init", f"init={json.dumps(source)}"))  # quoted: no YAML syntax
    return sets
