"""One training run's state: what `train.py` builds and `trainer.loop.train_loop` drives."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class Session:
    """Everything a training run holds, each field set once by `start_session`.

    The loop reads all of them and changes only these: the counters of `checkpoints`
    (step, epoch, position, running sums, best metric, phase), the variables of `model`
    and `optimizer` (through `step`, and `align_workers` at an epoch's end), `step.xla`
    when XLA cannot compile the step or `--xla auto` times it, and, through
    `enter_epoch`, which layers train and the learning rate's scale.

    Fields:
        args: the parsed command-line options.
        spec: the resolved spec (classes filled in from the data).
        data: the dataset, task and input pipeline (`trainer.data_setup.TrainingData`).
        strategy, strategy_name: the tf.distribute strategy and how to describe it.
        chief: whether this process writes the run directory (one per cluster).
        rundir: the run directory (`rundir.layout.RunDir`); `lock` holds it (chief only).
        progress: what the person sees (`trainer.progress.Progress`).
        model, optimizer: built under the strategy's scope; the optimizer holds slots for
            every layer, frozen ones too, so both phases of fine-tuning share one checkpoint.
        schedule: the learning-rate schedule (`trainer.optim.WarmupSchedule`).
        step: the compiled training step (`trainer.step.TrainStep`); `step.xla` is in effect.
        xla_reason: why XLA started on or off (`--xla on`, `auto: GPU`, ...); after
            `--xla auto` timed both ways, `step.measurement.verdict` says what it found.
        predict: the compiled inference call used for validation.
        checkpoints: the checkpoint and its counters (`trainer.checkpoint.Checkpoints`).
        writer: TensorBoard's summary writer (a no-op writer off the chief).
        plugins: where each `--plugin` module was imported from (recorded in run.json).
        init_report: what `init:` copied into the model (`trainer.pretrained.initialise`),
            recorded in run.json; None without `init:`.
        eval_shard: this worker's share of evaluation and how shares are combined
            (`trainer.eval_shard`); None: the whole split, in this process.
    """

    args: object
    spec: object
    data: object
    strategy: object
    strategy_name: str
    chief: bool
    rundir: object
    lock: object
    progress: object
    model: object
    optimizer: object
    schedule: object
    step: object
    xla_reason: str
    predict: object
    checkpoints: object
    writer: object
    plugins: list
    init_report: dict | None = None
    eval_shard: object = None

    @property
    def task(self):
        return self.data.task

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync

    @property
    def global_batch(self) -> int:
        return self.spec.train["batch_size"]

    @property
    def steps_per_epoch(self) -> int:
        return self.data.steps_per_epoch

    @property
    def precision(self) -> str:
        return self.args.precision

    def evaluate(self, split: str) -> dict:
        if self.eval_shard is None:
            return self.task.evaluate(self.predict, self.data.pipeline, split)
        return self.task.evaluate(self.predict, self.data.pipeline, split, self.eval_shard)

    def align_workers(self) -> None:
        """At an epoch's end, before evaluation and the checkpoint: with several workers,
        the statistics each updated from its own examples are averaged
        (`trainer.eval_shard.Workers.average`), so all evaluate and save the same model."""
        if self.eval_shard is not None:
            self.eval_shard.average(self.model.non_trainable_variables)

    def write_run_json(self) -> None:
        from .resume import model_hash
        args = self.args
        self.rundir.write_run_json({
            "seed": args.seed, "deterministic": args.deterministic,
            "strategy": self.strategy_name, "replicas": self.replicas, "xla": self.step.xla,
            "xla_choice": self.xla_choice(),
            "precision": self.precision, "dataset": absolute_if_folder(args.data),
            "data_dir": args.data_dir and os.path.abspath(args.data_dir),
            "plugins": self.plugins, "class_names": list(self.data.source.class_names),
            "spec_sha256": self.spec.sha256, "model_sha256": model_hash(self.spec),
            "global_batch": self.global_batch, "steps_per_epoch": self.steps_per_epoch,
            "init": self.init_report})

    def enter_epoch(self, epoch: int) -> None:
        """Sets what trains in epoch `epoch` (0-based): the layers of `train.freeze` are
        frozen in phase 1; from `train.unfreeze_at` epochs on (phase 2, kept in the
        checkpoint) they train too, at `unfreeze_lr_factor` times the rate. Frozen
        batchnorm layers run in inference mode, so their moving statistics stay."""
        train, phase = self.spec.train, self.checkpoints.phase
        if train["unfreeze_at"] and epoch >= train["unfreeze_at"] and int(phase) == 1:
            phase.assign(2)
            if train["freeze"]:
                self.progress.say(f"epoch {epoch + 1}: the frozen layers train from now on, "
                                  f"learning rate x{train['unfreeze_lr_factor']:g}")
        second = int(phase) == 2
        scale = train["unfreeze_lr_factor"] if second else 1.0
        changed = scale != self.schedule.scale
        self.schedule.scale = scale
        for name in train["freeze"] or ():
            layer = self.model.get_layer(name)
            if layer.trainable != second:
                layer.trainable, changed = second, True
        if changed:
            self.step.reset()  # traced again with what trains now, and the rate's scale

    def xla_choice(self) -> str:
        """What decided the XLA state in effect: "auto: CPU, measured ...", "--xla on", or
        a failed compile."""
        measured = self.step.measurement
        if self.step.fallback:
            why = "auto: CPU, timing both" if measured else self.xla_reason
            return f"{why}, then off: the compile failed ({self.step.fallback})"
        if measured is not None and measured.verdict:
            return measured.verdict
        return self.xla_reason

    def first_step_done(self, step_number: int) -> None:
        """After the first step the XLA state is known (or being timed): record it, and
        say it."""
        import tensorflow as tf

        from .strategy import cluster_started
        if self.step.measuring:
            self.step.measurement.steps_left = (self.spec.train["epochs"]
                                                * self.steps_per_epoch - step_number)
        if self.step.fallback:
            self.progress.say(f"XLA compilation failed ({self.step.fallback}); continuing "
                              "without XLA")
        self.write_run_json()
        cluster_started()
        hint = ""
        if self.step.xla and not tf.config.list_logical_devices("GPU"):
            # Measured (docs/performance.md): on CPUs XLA is faster for some models only.
            hint = "; on CPUs --xla auto times both"
        if self.step.measuring:
            return  # said when the timing settles it (`xla_decided`)
        why = "the compile failed" if self.step.fallback else self.xla_reason
        self.progress.say(f"XLA: {'on' if self.step.xla else 'off'} ({why}{hint})")

    def xla_decided(self) -> None:
        """`--xla auto` settled by timing: record it, and say it."""
        self.write_run_json()
        self.progress.say(f"XLA: {'on' if self.step.xla else 'off'} ({self.xla_choice()})")


def start_session(args, data, strategy, strategy_name: str) -> Session:
    """Opens the run directory (locked) and builds the model, optimizer, step and
    checkpoint under the strategy. Raises `rundir.lock.Busy` when another trainer holds
    the directory, and OptionError when `--out` is not a folder kspec may train into
    (`rundir.ownership`) or is read-only."""
    import keras
    import tensorflow as tf

    from builder import build_model
    from builder.plugins import load_plugins
    from rundir import console
    from rundir.layout import RunDir, check_entries, default_run_dir
    from rundir.lock import RunLock
    from rundir.ownership import RunDirRefused

    from .checkpoint import Checkpoints
    from .eval_shard import for_strategy
    from .optim import l2_penalty, make_optimizer, make_schedule
    from .progress import Progress
    from .step import TrainStep, make_predict
    from .strategy import OptionError, is_chief
    from .xla_auto import choose_xla
    spec, chief = data.spec, is_chief(strategy)
    xla, xla_reason, measure = choose_xla(args.xla, args.deterministic,
                                          "multiworker" not in strategy_name.lower())
    path = args.out or default_run_dir(spec.name)
    check_entries(path)  # a folder named .lock, a file named logs: said before any write
    try:
        rundir = RunDir(path, chief)
        # One trainer per run directory; in a cluster the chief speaks for all workers.
        lock = RunLock(rundir.path).acquire() if chief else None
    except RunDirRefused as exc:  # not kspec's folder, or read-only: exit 2, nothing written
        raise OptionError(str(exc)) from None
    console.keep_log_in(rundir.path)
    progress = Progress(spec.train["epochs"], data.steps_per_epoch, spec.train["batch_size"],
                        args.quiet)
    # Seeded right before the weights are drawn: loading data may consume global RNG.
    keras.utils.set_random_seed(args.seed)
    schedule = make_schedule(spec.train, data.steps_per_epoch)
    with strategy.scope():
        model = build_model(spec)
        optimizer = make_optimizer(spec.train, data.steps_per_epoch, args.precision, schedule)
        optimizer.build(model.trainable_variables)
    resolver = getattr(strategy, "cluster_resolver", None)
    checkpoints = Checkpoints(rundir.checkpoints, model, optimizer,
                              spec.train["keep_checkpoints"], chief,
                              getattr(resolver, "task_id", 0) or 0)
    step = TrainStep(model, data.task, optimizer, strategy, spec.train["batch_size"],
                     l2_penalty(model, spec.train), xla, measure)
    writer = (tf.summary.create_file_writer(rundir.file("logs")) if chief
              else tf.summary.create_noop_writer())
    session = Session(args, spec, data, strategy, strategy_name, chief, rundir, lock,
                      progress, model, optimizer, schedule, step, xla_reason,
                      make_predict(model), checkpoints, writer, load_plugins(args.plugin),
                      eval_shard=for_strategy(strategy))
    session.enter_epoch(0)
    return session


def absolute_if_folder(data: str) -> str:
    """A folder dataset is recorded by its absolute path, so the run works from anywhere."""
    return os.path.abspath(data) if os.path.isdir(data) else data
