"""Train the model a spec describes: `python train.py SPEC [options]` or `kspec train SPEC`.

Reads top to bottom: options -> spec -> devices and strategy -> data -> model,
optimizer and checkpoint under the strategy -> resume -> loop -> final model.
Exit codes: 0 done, 2 bad input (spec, options, data), 75 preempted by SIGTERM
(state saved; run the same command again), 1 anything else (NaN loss included).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys

from builder import SpecErrors, load_spec
from builder.plugins import PluginError
from trainer.options import EXIT_PREEMPTED, add_train_options

EXIT_BAD_INPUT = 2


def model_hash(spec) -> str:
    """Hash of everything but `train:`: a run directory may continue with new epochs."""
    body = {k: v for k, v in spec.resolved.items() if k != "train"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class Trainer:
    """Everything one run needs; `trainer.loop.train_loop` drives it."""

    def __init__(self, args, spec, strategy):
        import keras
        import tensorflow as tf

        from builder.plugins import load_plugins
        from tasks import make_task
        from tasks.data import load_source
        from tasks.data.checks import check_data
        from tasks.data.pipeline import Pipeline
        from rundir import console
        from trainer.progress import Progress
        from rundir.layout import RunDir, default_run_dir
        from rundir.lock import RunLock
        from trainer.strategy import OptionError, is_chief
        self.args, self.spec, self.precision = args, spec, args.precision
        self.plugins = load_plugins(args.plugin)  # imported already: where they came from
        self.strategy, self.strategy_name = strategy
        if args.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(args.seed)
        keras.mixed_precision.set_global_policy(args.precision)
        self.chief = is_chief(self.strategy)
        self.replicas = self.strategy.num_replicas_in_sync
        self.global_batch = spec.train["batch_size"]
        if self.global_batch % self.replicas:
            raise OptionError(f"batch size {self.global_batch} does not split evenly over "
                              f"{self.replicas} replicas; choose a multiple of {self.replicas}")
        self.source = load_source(args.data, args.data_dir)
        self.spec = spec = complete_spec(spec, self.source, args)
        check_memory(spec)
        self.task = make_task(spec)
        self.notes = check_data(self.source, spec, self.task)
        if args.precision == "mixed_float16" and not tf.config.list_logical_devices("GPU"):
            self.notes.append("mixed_float16 on a CPU is far slower than float32 (CPUs have no "
                              "fast float16 math); use it on GPUs")
        self.pipeline = Pipeline(self.source, self.task, spec, batch_size=self.global_batch,
                                 seed=args.seed, augment_settings=spec.train["augment"])
        per_epoch = self.pipeline.steps_per_epoch()
        if per_epoch == 0:
            raise OptionError(f"dataset {args.data}, split train has fewer examples "
                              f"({self.source.sizes.get('train')}) than one batch "
                              f"({self.global_batch}); lower --batch-size")
        self.steps_per_epoch = min(per_epoch, spec.train["steps_per_epoch"] or per_epoch)
        self.has_validation = "validation" in self.source.splits
        self.rundir = RunDir(args.out or default_run_dir(spec.name), self.chief)
        # One trainer per run directory; in a cluster the chief speaks for all workers.
        self.lock = RunLock(self.rundir.path).acquire() if self.chief else None
        console.keep_log_in(self.rundir.path)
        self.progress = Progress(spec.train["epochs"], self.steps_per_epoch, self.global_batch,
                                 args.quiet)
        self._build()

    def _build(self):
        import tensorflow as tf

        from builder import build_model
        from trainer.checkpoint import Checkpoints
        from trainer.optim import l2_penalty, make_optimizer
        from trainer.step import make_predict

        import keras
        # Seeded right before the weights are drawn: loading data may consume global RNG.
        keras.utils.set_random_seed(self.args.seed)
        with self.strategy.scope():
            self.model = build_model(self.spec)
            self.optimizer = make_optimizer(self.spec.train, self.steps_per_epoch, self.precision)
            self.optimizer.build(self.model.trainable_variables)
        self.penalty = l2_penalty(self.model, self.spec.train)
        resolver = getattr(self.strategy, "cluster_resolver", None)
        self.checkpoints = Checkpoints(self.rundir.checkpoints, self.model, self.optimizer,
                                       self.spec.train["keep_checkpoints"], self.chief,
                                       getattr(resolver, "task_id", 0) or 0)
        self.predict = make_predict(self.model)
        self.writer = (tf.summary.create_file_writer(self.rundir.file("logs")) if self.chief
                       else tf.summary.create_noop_writer())
        self.xla = not self.args.no_xla
        self._step = None

    def run_step(self, x, y):
        """One step, returning the loss tensor (not read: see LossWindow).

        On the first step an XLA compilation failure falls back to no XLA, loudly.
        """
        import tensorflow as tf

        from trainer.step import make_train_step
        from trainer.strategy import cluster_started
        if self._step is None:
            self._step = make_train_step(self.model, self.task, self.optimizer, self.strategy,
                                         self.global_batch, self.penalty, self.xla)
            # A failed compile can still have run ops without data dependencies (the
            # optimizer's step counter): snapshot the state so the fallback starts clean.
            state = self.optimizer.variables + self.model.variables
            saved = [v.numpy() for v in state] if self.xla else None
            try:
                loss = float(self._step(x, y))
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError,
                    tf.errors.InternalError) as exc:
                if not self.xla:
                    raise
                for var, value in zip(state, saved):
                    var.assign(value)
                self.progress.say(f"XLA compilation failed ({_cause(exc)}); continuing without XLA")
                self.xla = False
                self._step = make_train_step(self.model, self.task, self.optimizer, self.strategy,
                                             self.global_batch, self.penalty, False)
                loss = float(self._step(x, y))
            self.write_run_json()
            cluster_started()
            hint = ""
            if self.xla and not tf.config.list_logical_devices("GPU"):
                # Measured (docs/performance.md): TF's oneDNN CPU kernels beat XLA's CPU code.
                hint = " (on CPUs --no-xla is often faster)"
            self.progress.say(f"XLA: {'on' if self.xla else 'off'}{hint}")
            return loss
        return self._step(x, y)

    def evaluate(self, split: str) -> dict:
        return self.task.evaluate(self.predict, self.pipeline, split)

    def write_run_json(self):
        self.rundir.write_run_json({
            "seed": self.args.seed, "deterministic": self.args.deterministic,
            "strategy": self.strategy_name, "replicas": self.replicas, "xla": self.xla,
            "precision": self.precision, "dataset": _absolute_if_folder(self.args.data),
            "data_dir": self.args.data_dir and os.path.abspath(self.args.data_dir),
            "plugins": self.plugins, "class_names": list(self.source.class_names),
            "spec_sha256": self.spec.sha256, "model_sha256": model_hash(self.spec),
            "global_batch": self.global_batch, "steps_per_epoch": self.steps_per_epoch})

    def resume(self) -> bool:
        """Continues from the newest checkpoint that reads back; returns whether it did.

        Never starts over in a directory that holds checkpoints unless --restart says so.
        """
        import shutil

        import tensorflow as tf

        from rundir import checkpoints as files
        from trainer.strategy import OptionError
        ck, say = self.checkpoints, self.progress.say
        last = ck.last_folder()
        if self.chief:
            for kind in ("last", "best"):
                for name in files.remove_temporaries(os.path.join(self.rundir.checkpoints, kind)):
                    say(f"note: removed {kind}/{name}, left by a save that was stopped")
        if not self.args.resume:
            if self.chief and os.path.isdir(self.rundir.checkpoints):
                shutil.rmtree(self.rundir.checkpoints)
                say(f"--restart: starting over in {self.rundir.path}; its checkpoints and "
                    "metrics were removed")
            if self.chief:
                self.rundir.repair_metrics(0, "")
            return False
        if not files.has_any(last):
            return False
        self.check_same_run()
        prefix, skipped = files.newest_intact(last)
        if prefix is None:
            raise OptionError(f"{last} holds checkpoints but none can be read ("
                              f"{'; '.join(skipped) or 'no checkpoint files'}); pass --restart "
                              "to start over there, or another --out")
        if skipped:
            say(f"note: {'; '.join(skipped)}; resuming from {os.path.basename(prefix)}")
        try:
            ck.restore(prefix)
        except (AssertionError, ValueError, tf.errors.OpError) as exc:
            raise OptionError(f"{prefix} does not fit this model ({str(exc).splitlines()[0]}); "
                              "pass --restart to start over, or another --out") from None
        for note in self.rundir.repair_metrics(int(ck.epoch.numpy()),
                                               ck.last_row.numpy().decode()):
            say(f"note: {note}")
        return True

    def check_same_run(self) -> None:
        """A resume continues the recorded run or refuses: the fields that decide what the
        next step computes must be the ones the checkpoint was made with."""
        from rundir.layout import RunJsonError
        from trainer.strategy import OptionError
        try:
            recorded = self.rundir.read_run_json()
        except RunJsonError as exc:
            raise OptionError(str(exc)) from None
        if not recorded:
            raise OptionError(f"{self.rundir.path} holds checkpoints but no run.json to check "
                              "them against; pass --restart to start over there, or another "
                              "--out")
        now = {"model_sha256": model_hash(self.spec), "seed": self.args.seed,
               "global_batch": self.global_batch, "dataset": _absolute_if_folder(self.args.data),
               "precision": self.precision}
        for field, value in now.items():
            if field in recorded and recorded[field] != value:
                what = "model (spec)" if field == "model_sha256" else field
                shown = ("" if field == "model_sha256"
                         else f": recorded {recorded[field]!r}, now {value!r}")
                raise OptionError(f"{self.rundir.path} holds a run with a different {what}"
                                  f"{shown}; pass --restart to start over there, or another "
                                  "--out")


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
    """Refuses a model whose training state cannot fit in this machine's memory, before any
    weight is allocated (a typo like `filters: 1000000000` would otherwise take it all)."""
    from builder.summary import training_bytes
    from trainer.strategy import OptionError, available_memory
    need, have = training_bytes(spec), available_memory()
    if have and need["total"] > have:
        raise OptionError(
            f"{spec.name} needs {need['total'] / 1e9:,.1f} GB for its weights, gradients and "
            f"optimizer state ({need['weights'] / 1e9:,.1f} GB of weights) but this machine has "
            f"{have / 1e9:,.1f} GB available; `kspec summary` shows which layers hold them")


def _cause(exc) -> str:
    """The informative line of a TensorFlow error (the first is often just its kind)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for line in lines:
        if any(word in line for word in ("UNIMPLEMENTED", "not supported", "XLA", "Unsupported")):
            return line[:300]
    return (lines[-1] if lines else type(exc).__name__)[:300]


def _absolute_if_folder(data: str) -> str:
    """A folder dataset is recorded by its absolute path, so the run works from anywhere."""
    return os.path.abspath(data) if os.path.isdir(data) else data


def overrides_from(args) -> list:
    sets = list(args.set)
    for option, key in (("epochs", "train.epochs"), ("batch_size", "train.batch_size"),
                        ("steps_per_epoch", "train.steps_per_epoch")):
        if getattr(args, option) is not None:
            sets.append(f"{key}={getattr(args, option)}")
    return sets


class _Terminated(BaseException):
    """SIGTERM outside the training loop (which saves and stops on its own). A
    BaseException, as KeyboardInterrupt is: no library's `except Exception` swallows it."""


def _raise_terminated(signum, frame):
    raise _Terminated()


def run(args) -> int:
    # SIGTERM at any moment exits 75: the loop saves first; elsewhere the exception
    # unwinds through the atomic writers, so nothing is left half-written.
    signal.signal(signal.SIGTERM, _raise_terminated)
    # A file-size limit must give an error to report, not kill the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        return _run(args)
    except _Terminated:
        print("kspec train: SIGTERM outside the training loop; nothing was half-written. Run "
              "the same command to continue.", file=sys.stderr)
        return EXIT_PREEMPTED


def _run(args) -> int:
    try:
        spec = load_spec(args.spec, overrides_from(args), args.plugin)
    except (SpecErrors, PluginError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    from rundir.lock import Busy
    from tasks.data import DataError
    from trainer.loop import Stop, train_loop
    from trainer.strategy import OptionError, configure_devices, make_strategy
    try:
        # Devices and the strategy come first: a cluster's collective ops must be set up
        # before anything else initialises TensorFlow.
        configure_devices(args.logical_cpus)
        strategy = make_strategy(args.strategy)
        t = Trainer(args, spec, strategy)
        resumed = t.resume()
    except (DataError, OptionError, Busy) as exc:
        print(f"kspec train: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for note in t.notes:
        t.progress.say(f"note: {note}")
    t.progress.say(f"{spec.name}: {t.model.count_params():,} params, {t.strategy_name}, "
                   f"batch {t.global_batch}, {t.steps_per_epoch} steps/epoch, {args.precision}"
                   + (f", resumed at step {int(t.checkpoints.step.numpy())}" if resumed else ""))
    t.rundir.write_spec(t.spec)
    if not resumed:
        t.write_run_json()
    import tensorflow as tf
    try:
        train_loop(t)
    except Stop as stop:
        print(f"kspec train: {stop}", file=sys.stderr)
        return stop.code
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError,
            tf.errors.CancelledError) as exc:
        if t.replicas == 1 or "multiworker" not in t.strategy_name.lower():
            raise
        print(f"kspec train: a worker was lost ({type(exc).__name__}); training stopped at "
              f"step {int(t.checkpoints.step.numpy())}. Restart every worker with the same "
              "command to resume from the last checkpoint.", file=sys.stderr)
        return 1
    return finish(t)


def finish(t) -> int:
    from rundir import checkpoints as files
    try:
        t.rundir.save_model(t.model)
    except OSError as exc:
        print(f"kspec train: cannot write {t.rundir.file('model.keras')}: {exc.strerror}; the "
              "checkpoints are intact: free some space and run the same command to finish.",
              file=sys.stderr)
        return 1
    rows = t.rundir.read_metrics()
    last = rows[-1] if rows else {}
    shown = ", ".join(f"{k} {v:.4f}" for k, v in last.items() if k.startswith("val_"))
    print(f"done: {t.rundir.path} ({shown or 'no validation split'})")
    best = files.listed(os.path.join(t.rundir.checkpoints, "best"))
    if best:
        print(f"  best checkpoint: {best[0]}")
    print(f"  next: kspec evaluate {t.rundir.path}   |   kspec export {t.rundir.path} "
          "--format tflite")
    return 0


def add_commands(sub, common) -> None:
    p = sub.add_parser("train", parents=[common], help="train a spec (see train.py)")
    add_train_options(p)
    p.set_defaults(func=run)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="train.py", description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own log lines (else in RUN_DIR/logs/kspec.log)")
    add_train_options(parser)
    args = parser.parse_args(argv)
    from rundir import console
    console.quiet_libraries(args.verbose)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
