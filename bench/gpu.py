"""The GPU figure: ResNet-50 from its spec against keras.applications.ResNet50, Keras on JAX.

    KERAS_BACKEND=jax python -m bench.gpu [--batch 256] [--image 224] [--steps 30] [--out F]

For the GPU machine (JAX and CUDA, no TensorFlow): only Keras and the builder are
needed (carry them as described in docs/performance.md). bf16 mixed precision,
synthetic data generated on the device, one jitted training step (forward,
backward, SGD update) per batch through Keras's stateless API; both models are
timed alternately in the same process and the best round of each is reported.
"""
from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402


def make_step(model, optimizer):
    import jax
    import keras

    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    optimizer.build(model.trainable_variables)

    def compute(trainable, non_trainable, x, y):
        pred, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
        return loss_fn(y, pred), non_trainable

    grad = jax.value_and_grad(compute, has_aux=True)

    @jax.jit
    def step(state, x, y):
        trainable, non_trainable, opt_vars = state
        (loss, non_trainable), grads = grad(trainable, non_trainable, x, y)
        trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
        return loss, (trainable, non_trainable, opt_vars)

    state = ([v.value for v in model.trainable_variables],
             [v.value for v in model.non_trainable_variables],
             [v.value for v in optimizer.variables])
    return step, state


def images_per_second(step, state, x, y, steps: int):
    start = time.perf_counter()
    for _ in range(steps):
        loss, state = step(state, x, y)
    loss.block_until_ready()
    return x.shape[0] * steps / (time.perf_counter() - start), state


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gpu")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--image", type=int, default=224)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--precision", default="mixed_bfloat16")
    p.add_argument("--out", help="write the rows as JSON")
    args = p.parse_args(argv)

    import jax
    import keras

    from builder import build_model
    assert keras.backend.backend() == "jax", "run with KERAS_BACKEND=jax"
    keras.mixed_precision.set_global_policy(args.precision)
    shape = (args.image, args.image, 3)
    models = {
        "ours": build_model("specs/resnet50.yaml", overrides=[f"input.shape={list(shape)}"]),
        "keras.applications": keras.applications.ResNet50(weights=None, input_shape=shape),
    }
    key = jax.random.PRNGKey(0)
    x = jax.random.uniform(key, (args.batch,) + shape, dtype="float32")  # made on the device
    y = jax.random.randint(key, (args.batch,), 0, 1000)
    steps = {name: make_step(m, keras.optimizers.SGD(0.1, momentum=0.9))
             for name, m in models.items()}
    states = {}
    for name, (step, state) in steps.items():  # compile and warm up
        for _ in range(2):
            loss, state = step(state, x, y)
        loss.block_until_ready()
        states[name] = state
    best = {name: 0.0 for name in models}
    for _ in range(args.rounds):  # alternated: ours, reference, ours, reference ...
        for name, (step, _) in steps.items():
            rate, states[name] = images_per_second(step, states[name], x, y, args.steps)
            best[name] = max(best[name], rate)
    device = jax.devices()[0]
    row = {"what": f"train ResNet-50 {args.image}x{args.image} batch {args.batch} "
                   f"{args.precision} on {device.device_kind} (JAX)",
           "unit": "img/s", "ours": best["ours"], "reference": best["keras.applications"],
           "ratio": best["ours"] / best["keras.applications"], "rounds": args.rounds}
    print(json.dumps(row))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump([row], fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
