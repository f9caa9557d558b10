"""Train the model a spec describes: `python train.py SPEC [options]` or `kspec train SPEC`.

Reads top to bottom (`_run`): options -> spec -> devices and strategy -> data ->
session (run directory, model, optimizer, step and checkpoint under the strategy)
-> resume -> loop -> final model. Each step is a call into the `trainer` package.
Exit codes: 0 done, 2 bad input (spec, options, data), 75 preempted by SIGTERM
(state saved; run the same command again), 1 anything else (NaN loss included).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

from builder import EXIT_BAD_INPUT, SpecErrors, load_spec
from builder.plugins import PluginError
from trainer.environment import environment_exit_code
from trainer.options import EXIT_PREEMPTED, add_train_options, overrides_from, plugin_module

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
    from rundir.layout import RunJsonError
    from rundir.lock import Busy
    from tasks.data import DataError
    from trainer.data_setup import open_data
    from trainer.loop import Stop, train_loop
    from trainer.pretrained import InitError, initialise
    from trainer.resume import resume
    from trainer.session import start_session
    from trainer.strategy import OptionError, configure_devices, make_strategy, precision_notes
    try:
        # Devices and the strategy come first: a cluster's collective ops must be set up
        # before anything else initialises TensorFlow.
        configure_devices(args.logical_cpus)
        strategy, strategy_name = make_strategy(args.strategy)
        batch = spec.train["batch_size"]
        if batch % strategy.num_replicas_in_sync:
            raise OptionError(f"batch size {batch} does not split evenly over "
                              f"{strategy.num_replicas_in_sync} replicas; choose a multiple of "
                              f"{strategy.num_replicas_in_sync}")
        seed_everything(args)
        data = open_data(args, spec, batch)
        s = start_session(args, data, strategy, strategy_name)
        resumed = resume(s)
        if not resumed and s.spec.init:  # a resume's checkpoint supersedes the start
            s.init_report = initialise(s.model, s.spec, init_source(s.spec), s.progress.say)
    except (DataError, OptionError, Busy, InitError, RunJsonError) as exc:
        print(f"kspec train: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for note in data.notes + precision_notes(args.precision):
        s.progress.say(f"note: {note}")
    s.progress.say(f"{spec.name}: {s.model.count_params():,} params, {strategy_name}, "
                   f"batch {batch}, {s.steps_per_epoch} steps/epoch, {args.precision}"
                   + (f", resumed at step {int(s.checkpoints.step.numpy())}" if resumed else ""))
    s.rundir.write_spec(s.spec)
    if not resumed:
        s.write_run_json()
    import tensorflow as tf
    try:
        train_loop(s)
    except Stop as stop:
        print(f"kspec train: {stop}", file=sys.stderr)
        return stop.code
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError,
            tf.errors.CancelledError) as exc:
        if s.replicas == 1 or "multiworker" not in strategy_name.lower():
            raise
        print(f"kspec train: a worker was lost ({type(exc).__name__}); training stopped at "
              f"step {int(s.checkpoints.step.numpy())}. Restart every worker with the same "
              "command to resume from the last checkpoint.", file=sys.stderr)
        return 1
    return finish(s)


def init_source(spec) -> str:
    """`init.from` as the run reads it: a relative path in a spec file is relative to the
    spec's folder (`--init` paths are made absolute from the working directory)."""
    source = spec.init["from"]
    if source.startswith("keras.applications.") or os.path.isabs(source):
        return source
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(spec.file)), source))


def seed_everything(args) -> None:
    """Seeds, op determinism and the precision policy, before any data or weight exists."""
    import keras
    import tensorflow as tf
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(args.seed)
    keras.mixed_precision.set_global_policy(args.precision)


def finish(s) -> int:
    """The final model, and what to do next."""
    from rundir import checkpoints as files
    try:
        s.rundir.save_model(s.model)
    except OSError as exc:
        print(f"kspec train: cannot write {s.rundir.file('model.keras')}: {exc.strerror}; the "
              "checkpoints are intact: free some space and run the same command to finish.",
              file=sys.stderr)
        return 1
    rows = s.rundir.read_metrics()
    last = rows[-1] if rows else {}
    shown = ", ".join(f"{k} {v:.4f}" for k, v in last.items() if k.startswith("val_"))
    print(f"done: {s.rundir.path} ({shown or 'no validation split'})")
    best = files.listed(os.path.join(s.rundir.checkpoints, "best"))
    if best:
        print(f"  best checkpoint: {best[0]}")
    print(f"  next: kspec evaluate {s.rundir.path}   |   kspec export {s.rundir.path} "
          "--format tflite")
    return 0


def add_commands(sub, common) -> None:
    p = sub.add_parser("train", parents=[common], help="train a spec (see train.py)")
    add_train_options(p)
    p.set_defaults(func=run)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="train.py", description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        type=plugin_module)
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own log lines (else in RUN_DIR/logs/kspec.log)")
    add_train_options(parser)
    args = parser.parse_args(argv)
    bad_environment = environment_exit_code("train.py")  # before anything imports Keras
    if bad_environment:
        return bad_environment
    from rundir import console
    console.quiet_libraries(args.verbose)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
