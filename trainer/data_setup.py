"""The training data of a run: the source, the spec completed by it, the task and the pipeline."""
from __future__ import annotations

from dataclasses import dataclass

from builder import load_spec

from .options import overrides_from
from .strategy import OptionError


@dataclass
class TrainingData:
    """What the data decides about a run.

    `spec` is the run's spec with `head.classes` filled in from the dataset where the
    spec left it out; `notes` are conversions the data check will make (said once at
    the start); `steps_per_epoch` is already capped by `train.steps_per_epoch`.
    """

    source: object
    spec: object
    task: object
    pipeline: object
    steps_per_epoch: int
    has_validation: bool
    notes: list


def open_data(args, spec, global_batch: int) -> TrainingData:
    """Loads and checks the dataset `--data` names against the spec's task.

    Raises `tasks.data.DataError` or `OptionError` (exit 2) for data that does not fit.
    """
    from tasks import make_task
    from tasks.data import load_source
    from tasks.data.checks import check_data
    from tasks.data.pipeline import Pipeline

    source = load_source(args.data, args.data_dir)
    spec = complete_spec(spec, source, args)
    check_memory(spec)
    task = make_task(spec)
    notes = check_data(source, spec, task)
    from .strategy import accelerator
    pipeline = Pipeline(source, task, spec, batch_size=global_batch, seed=args.seed,
                        augment_settings=spec.train["augment"],
                        shares_cores=accelerator() is None)
    per_epoch = pipeline.steps_per_epoch()
    if per_epoch == 0:
        raise OptionError(f"dataset {args.data}, split train has fewer examples "
                          f"({source.sizes.get('train')}) than one batch ({global_batch}); "
                          "lower --batch-size")
    steps = min(per_epoch, spec.train["steps_per_epoch"] or per_epoch)
    return TrainingData(source, spec, task, pipeline, steps, "validation" in source.splits, notes)


def complete_spec(spec, source, args):
    """A head whose `classes` was left out gets the dataset's count (recorded in the run's
    spec.yaml, so evaluate and export build the same model)."""
    from builder.spec import classes_pending
    if not classes_pending(spec.head):
        return spec
    from tasks import task_class
    n = task_class(spec.task).classes_in(source)
    if n < 1:
        from tasks.data import DataError
        raise DataError(f"dataset {source.name} names no classes; set head.classes")
    return load_spec(args.spec, overrides_from(args) + [f"head.classes={n}"], args.plugin)


def check_memory(spec) -> None:
    """Refuses a model whose training cannot fit in this machine's memory, before any
    weight is allocated (a typo like `filters: 1000000000`, or a 30000x30000 input, would
    otherwise take it all): the state kept for the run plus one batch's activations."""
    from builder.summary import training_bytes

    from .strategy import available_memory
    need, have = training_bytes(spec), available_memory()
    if have and need["total"] > have:
        state = need["total"] - need["activations"]
        raise OptionError(
            f"{spec.name} needs {need['total'] / 1e9:,.1f} GB to train at batch "
            f"{need['batch']}: {state / 1e9:,.1f} GB for its weights, gradients and optimizer "
            f"state ({need['weights'] / 1e9:,.1f} GB of weights) and "
            f"{need['activations'] / 1e9:,.1f} GB of activations, but this machine has "
            f"{have / 1e9:,.1f} GB available; `kspec summary` shows which layers hold them "
            "(a smaller --batch-size or input needs fewer activations)")
