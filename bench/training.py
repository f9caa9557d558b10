"""Training throughput: the trainer's step against Keras `fit`, XLA on against off,
and the real input pipeline against the same tensors in memory."""
from __future__ import annotations

from .common import NOISY_ROUNDS, ROUNDS, Row, alternate, in_memory


def _shares_cores() -> bool:
    """As the trainer sets up its pipeline (`trainer.data_setup.open_data`)."""
    from trainer.strategy import accelerator
    return accelerator() is None

MODELS = {"LeNet-5": ("specs/lenet5.yaml", []),
          "ResNet-18 64x64": ("specs/resnet18.yaml", ["input.shape=[64, 64, 3]",
                                                      "head.classes=4"])}


def _setup(path, overrides, batch):
    import keras
    import tensorflow as tf

    from builder import load_spec
    from tasks import make_task
    from tasks.data import load_source
    from tasks.data.pipeline import Pipeline
    spec = load_spec(path, overrides + [f"train.batch_size={batch}"])
    task = make_task(spec)
    source = load_source("shapes")
    pipe = Pipeline(source, task, spec, batch_size=batch, seed=0)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    keras.utils.set_random_seed(0)
    return spec, task, source, pipe, strategy


def _trainer_step(spec, task, strategy, batch, xla):
    from builder import build_model
    from trainer.optim import make_optimizer
    from trainer.step import make_train_step
    with strategy.scope():
        model = build_model(spec)
        opt = make_optimizer(spec.train, 100, "float32")
        opt.build(model.trainable_variables)
    return make_train_step(model, task, opt, strategy, batch, None, xla)


def _default_step(spec, task, strategy, batch, dataset):
    """The trainer's own step as `--xla auto` sets it up on this machine, for a long run
    (`trainer.xla_auto`), driven until its choice is made. Returns the step, why it is
    in the state it is, and the seconds and steps that took (compiles included)."""
    import time

    from builder import build_model
    from trainer.optim import make_optimizer
    from trainer.step import TrainStep
    from trainer.xla_auto import choose_xla
    with strategy.scope():
        model = build_model(spec)
        opt = make_optimizer(spec.train, 100, "float32")
        opt.build(model.trainable_variables)
    xla, why, measure = choose_xla("auto")
    step = TrainStep(model, task, opt, strategy, batch, None, xla, measure)
    it = iter(dataset.repeat())
    start, calls = time.perf_counter(), 0
    while True:
        x, y = next(it)
        loss = step(x, y)
        calls += 1
        if calls == 1 and step.measuring:
            step.measurement.steps_left = 10 ** 7  # a long run: XLA is worth trying
        if not step.measuring:
            break
    float(loss)
    seconds = time.perf_counter() - start
    if step.measurement is not None:
        why = step.measurement.verdict
    return step, why, seconds, calls


def _trainer_rate(step, dataset, batch, steps):
    """A timed round of the trainer's step. Like `fit`, which makes an iterator per call,
    each round makes its own (the same iterator treatment for both)."""
    def timed():
        import time
        start = time.perf_counter()
        it = iter(dataset)
        for i in range(steps):
            x, y = next(it)
            loss = step(x, y)
            if i % 16 == 15:  # the trainer reads losses in windows (trainer/loop.py)
                float(loss)
        float(loss)
        return batch * steps / (time.perf_counter() - start)
    x, y = next(iter(dataset))
    for _ in range(3):
        float(step(x, y))  # compile
    return timed


def _fit_rate(spec, task, dataset, batch, steps, xla):
    import keras

    from builder import build_model
    from trainer.optim import make_optimizer
    keras.utils.set_random_seed(0)
    model = build_model(spec)
    model.compile(optimizer=make_optimizer(spec.train, 100, "float32"), loss=task.loss,
                  jit_compile=xla)
    model.fit(dataset, epochs=1, steps_per_epoch=3, verbose=0)  # compile

    def once():
        import time
        start = time.perf_counter()
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
        return batch * steps / (time.perf_counter() - start)
    return once


def training_rows(quick: bool) -> list:
    rows = []
    # A quick run (a smoke test that every row is produced) skips ResNet-18, whose two XLA
    # compilations take most of a minute on a CPU, as the export rows do.
    models = {"LeNet-5": MODELS["LeNet-5"]} if quick else MODELS
    for name, (path, overrides) in models.items():
        batch = 32
        # Timed rounds of about a second at the faster setting (ResNet-18 with XLA takes
        # ten times longer on this CPU); LeNet-5 runs some 500 steps a second.
        steps = (2 if quick else 8) if "ResNet" in name else (10 if quick else 500)
        rounds = 1 if quick else ROUNDS
        spec, task, source, pipe, strategy = _setup(path, overrides, batch)
        data = in_memory(pipe.train(0), 8)
        with_xla = _trainer_rate(_trainer_step(spec, task, strategy, batch, True), data, batch,
                                 steps)
        fit = _fit_rate(spec, task, data, batch, steps, True)
        a, b = alternate(with_xla, fit, rounds)
        rows.append(Row(f"train {name}: trainer vs Keras fit (XLA)", "img/s", a, b,
                        bar=">= 0.95", rounds=rounds))
        no_xla = _trainer_rate(_trainer_step(spec, task, strategy, batch, False), data, batch,
                               steps)
        step, why, seconds, calls = _default_step(spec, task, strategy, batch, data)
        default = _trainer_rate(step, data, batch, steps)
        on, off, ours = 0.0, 0.0, 0.0
        # More rounds here: on a shared 2-core machine rounds of the same step vary by far
        # more than the default's bar leaves (LeNet-5 with XLA: 2,733 to 3,882 img/s in
        # six rounds), and its side is measured against the best of two others.
        settings_rounds = 1 if quick else NOISY_ROUNDS
        for _ in range(settings_rounds):
            on, off, ours = max(on, with_xla()), max(off, no_xla()), max(ours, default())
        rows.append(Row(f"train {name}: XLA on vs off", "img/s", on, off,
                        rounds=settings_rounds))
        setting = "on" if step.xla else "off"
        rows.append(Row(f"train {name}: default trainer (--xla auto, {setting} after timing "
                        "both) vs the faster of XLA on/off", "img/s", ours, max(on, off),
                        note=why, bar=">= 0.95", rounds=settings_rounds))
        # What timing both ways costs once per run: its steps (two compiles included)
        # against the same steps at the faster setting's speed.
        rows.append(Row(f"train {name}: --xla auto's timing ({calls} steps, compiles "
                        "included) vs those steps at the faster setting", "s", seconds,
                        calls * batch / max(on, off), rounds=1))
    return rows


def input_work_rows(quick: bool) -> list:
    """The input work one worker does per epoch with 2 workers against 1: CPU seconds of
    the worker's own pipeline (`Pipeline.train(worker=0, workers=2)`) for the same steps,
    measured in one process, one pipeline at a time (CPU time, so the two do not compete
    for cores), the prepared split already in memory as from the second epoch on.

    The epoch's set-up (`Pipeline.train` itself: its permutation, random draws and the
    tracing of its graph) is a row of its own: it is the same for any number of workers
    and does not grow with the split, so on this small split it would hide how the work
    that does grow is shared."""
    import time

    import tensorflow as tf

    from tasks.data.pipeline import Pipeline
    batch = 32
    spec, task, source, _, _ = _setup("specs/small_cnn.yaml", [], batch)
    aug = {"hflip": True, "crop": 0.1, "brightness": 0.1}
    pipe = Pipeline(source, task, spec, batch_size=batch, seed=0, augment_settings=aug,
                    shares_cores=_shares_cores())
    pipe.table()  # read and decoded in the first epoch, once per worker either way
    steps = 20 if quick else pipe.steps_per_epoch()  # a whole epoch: nothing made ahead is lost
    setup = {1: [], 2: []}

    def work(workers):
        def timed():
            start = time.process_time()
            ds = pipe.train(1, 0, 0, workers).take(steps)
            setup[workers].append(time.process_time() - start)
            start = time.process_time()
            # Drained inside TensorFlow: the pipeline's own work, without a Python loop's.
            ds.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1)
            return 1.0 / (time.process_time() - start)  # a rate: higher is less work
        return timed
    rounds = 1 if quick else NOISY_ROUNDS
    one, two = alternate(work(1), work(2), rounds)
    return [Row("input work per worker per epoch after its set-up (CPU s), 2 workers vs 1, "
                "small CNN 64x64", "CPU s", 1 / two, 1 / one, bar="<= 0.6", rounds=rounds),
            Row("epoch set-up per worker (CPU s), 2 workers vs 1, small CNN 64x64", "CPU s",
                min(setup[2]), min(setup[1]), rounds=rounds)]


def pipeline_rows(quick: bool) -> list:
    """Training fed by the real pipeline against the same batches held in memory.

    Two rows per model: the epochs after the first (the prepared split in memory,
    gathered and augmented every epoch), and the first epoch, whose time includes
    reading and decoding the split into memory (`Pipeline.table`), once per run.
    """
    import time

    from tasks.data.pipeline import Pipeline
    batch = 32
    aug = {"hflip": True, "crop": 0.1, "brightness": 0.1}
    rows = []
    # Steps per timed round: about a second each (LeNet-5 trains about 5x faster).
    models = (("small CNN 64x64", "specs/small_cnn.yaml", 150),
              ("LeNet-5 32x32 gray", "specs/lenet5.yaml", 600))
    for name, path, steps in models[:1] if quick else models:
        steps = 10 if quick else steps
        spec, task, source, _, strategy = _setup(path, [], batch)
        step = _trainer_step(spec, task, strategy, batch, False)
        live = Pipeline(source, task, spec, batch_size=batch, seed=0, augment_settings=aug,
                        shares_cores=_shares_cores())
        live.table()
        real = _trainer_rate(step, live.train(1).repeat(), batch, steps)
        memory = _trainer_rate(step, in_memory(live.train(1), 16), batch, steps)
        rounds = 1 if quick else NOISY_ROUNDS
        a, b = alternate(real, memory, rounds)
        rows.append(Row(f"input pipeline (after the first epoch) vs in memory, {name}",
                        "img/s", a, b, bar=">= 0.9", rounds=rounds))

        def first_epoch():
            fresh = Pipeline(source, task, spec, batch_size=batch, seed=0,
                             augment_settings=aug, shares_cores=_shares_cores())
            start = time.perf_counter()
            count = 0
            for x, y in fresh.train(0):
                loss = step(x, y)
                count += 1
            float(loss)
            return count * batch / (time.perf_counter() - start)
        in_memory_epoch = _trainer_rate(step, in_memory(live.train(1), 16), batch,
                                        live.steps_per_epoch())
        rounds = 1 if quick else ROUNDS
        a, b = alternate(first_epoch, in_memory_epoch, rounds)
        rows.append(Row(f"first epoch (its {source.sizes['train']:,} images decoded into "
                        f"memory) vs in memory, {name}", "img/s", a, b, rounds=rounds))
    return rows
