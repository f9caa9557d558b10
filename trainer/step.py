"""The distributed training step: per-replica gradients compiled with XLA, all-reduced apply.

Keras 3's `fit` fails under MultiWorkerMirroredStrategy and turns XLA off under
any strategy (keras-team/keras#20585; keras/src/trainers/trainer.py), so this is our own step, as TF Model Garden does:
the forward and backward pass is one `jit_compile=True` function per replica;
the optimizer's apply (which all-reduces the gradients) runs outside it.
"""
from __future__ import annotations

import keras
import tensorflow as tf


def make_train_step(model, task, optimizer, strategy, global_batch: int, penalty, xla: bool):
    replicas = strategy.num_replicas_in_sync
    scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    variables = model.trainable_variables  # as they are now: `TrainStep.reset` after a change

    def gradients(x, y):
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            # Sum over this replica's examples / global batch: replicas add up to the mean.
            loss = tf.reduce_sum(tf.cast(task.loss(y, pred), tf.float32)) / global_batch
            if model.losses:
                loss += tf.add_n([tf.cast(v, tf.float32) for v in model.losses]) / replicas
            if penalty is not None:
                loss += penalty() / replicas
            # The loss reported (and checked for NaN) is the whole objective, so a fault in
            # the regularisation terms is caught at the step that made it.
            total = optimizer.scale_loss(loss) if scaled else loss
        return loss, tape.gradient(total, variables)

    compiled = tf.function(gradients, jit_compile=True) if xla else gradients

    def replica_step(x, y):
        loss, grads = compiled(x, y)
        optimizer.apply(grads, variables)
        return loss

    if replicas == 1:
        # One replica needs no all-reduce: the whole step, the optimizer's update
        # included, is one compiled program (as Keras `fit` compiles it).
        @tf.function(jit_compile=xla)
        def single(x, y):
            loss, grads = gradients(x, y)
            optimizer.apply(grads, variables)
            return loss

        return lambda x, y: strategy.run(single, args=(x, y))

    @tf.function
    def step(x, y):
        per_replica = strategy.run(replica_step, args=(x, y))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return step


class TrainStep:
    """The training step, compiled with XLA when asked, falling back without it.

    The first call builds the step; when XLA cannot compile it (an op with no XLA
    kernel, say), the model's and optimizer's state is put back, since a failed
    compile can still have run ops without data dependencies (the optimizer's step
    counter), and the step is rebuilt without XLA. Afterwards `xla` says what is in
    effect and `fallback` why XLA was dropped (None when it was not).

    `measure` (`--xla auto` on a CPU, `trainer.xla_auto`): the first steps are timed
    without XLA, then with it, and the faster is kept; `measurement.verdict` says
    what was found, and `decision_made()` is true once, at the step that settled it.
    """

    def __init__(self, model, task, optimizer, strategy, global_batch: int, penalty, xla: bool,
                 measure: bool = False):
        from .xla_auto import Measurement
        self.xla, self.fallback = xla, None
        self.measurement = Measurement() if measure else None
        self._make = lambda xla: make_train_step(model, task, optimizer, strategy, global_batch,
                                                 penalty, xla)
        self._state = optimizer.variables + model.variables
        self._step = None
        self._off_step = None  # the step without XLA, kept while XLA is timed
        self._decided = False

    @property
    def measuring(self) -> bool:
        return self.measurement is not None and self.measurement.phase != "done"

    def reset(self) -> None:
        """Builds the step anew at the next call: what trains has changed (a phase of
        fine-tuning began). The XLA state in effect is kept; a timing window restarts."""
        self._step = self._off_step = None
        if self.measuring:
            self.measurement.restart_window()

    def decision_made(self) -> bool:
        """True once, after the step at which timing settled the XLA state."""
        made, self._decided = self._decided, False
        return made

    def __call__(self, x, y):
        """The step's loss (a tensor; the first call returns a float, having waited)."""
        if self._step is None:
            return self._first_call(x, y)
        if not self.measuring:
            return self._step(x, y)
        from .xla_auto import timed
        loss, seconds = timed(self._step, x, y)
        decision = self.measurement.add(seconds)
        if decision == "try XLA":  # built and compiled at the next call, not timed
            self._off_step, self._step, self.xla = self._step, None, True
        elif decision is not None:
            if decision == "drop XLA" and self.xla:
                self._step, self.xla = self._off_step, False  # None: rebuilt at the next call
            self._off_step, self._decided = None, True
        return loss

    def _first_call(self, x, y):
        self._step = self._make(self.xla)
        saved = [v.numpy() for v in self._state] if self.xla else None
        try:
            return float(self._step(x, y))
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError,
                tf.errors.InternalError) as exc:
            if not self.xla:
                raise
            cause = _cause(exc)
        for var, value in zip(self._state, saved):
            var.assign(value)
        self.xla, self.fallback = False, cause
        if self.measuring:  # XLA was being tried: the measurement ends without it
            self.measurement.phase = "done"
            self._decided = True
        self._step = self._off_step or self._make(False)
        self._off_step = None
        return float(self._step(x, y))


def _cause(exc) -> str:
    """The informative line of a TensorFlow error (the first is often just its kind)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for line in lines:
        if any(word in line for word in ("UNIMPLEMENTED", "not supported", "XLA", "Unsupported")):
            return line[:300]
    return (lines[-1] if lines else type(exc).__name__)[:300]


def make_predict(model):
    @tf.function
    def predict(x):
        return model(x, training=False)
    return predict
