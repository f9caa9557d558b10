"""`kspec evaluate`, `kspec predict` and `kspec embed`: using a trained run directory."""
from __future__ import annotations

import json
import os
import sys

import numpy as np

from builder import EXIT_BAD_INPUT


def read_inputs(paths, input_section: dict):
    """Image files or .npy batches (raw 0..255 pixels) -> (names, raw uint8-range float array)."""
    import tensorflow as tf

    from tasks.data.folder import IMAGE_SUFFIXES
    shape = tuple(input_section["shape"])
    names, arrays = [], []
    for path in paths:
        if not os.path.isfile(path):
            raise ValueError(f"{path}: no such file")
        if path.endswith(".npy"):
            with open(path, "rb") as fh:
                if fh.read(6) != b"\x93NUMPY":
                    raise ValueError(f"{path}: not a NumPy .npy file")
            try:
                batch = np.load(path, allow_pickle=False)
            except (ValueError, OSError, EOFError) as exc:
                raise ValueError(f"{path}: a .npy file that cannot be read as numbers ({exc})") \
                    from None
            if batch.size == 0:
                raise ValueError(f"{path}: the array holds no samples (shape {batch.shape})")
            if batch.shape[1:] != shape and batch.shape != shape:
                raise ValueError(f"{path}: array shape {batch.shape} does not fit the model's "
                                 f"input {shape} (with or without a batch axis)")
            batch = batch.reshape((-1,) + shape)
            names += [f"{path}[{i}]" for i in range(len(batch))]
            arrays.append(batch.astype(np.float32))
        elif path.lower().endswith(IMAGE_SUFFIXES):
            try:
                img = tf.io.decode_image(tf.io.read_file(path), channels=shape[2],
                                         expand_animations=False)
            except tf.errors.OpError:
                raise ValueError(f"{path}: not a readable image (corrupt, empty or another "
                                 "format)") from None
            img = tf.image.resize(img, shape[:2])
            names.append(path)
            arrays.append(img.numpy()[None])
        else:
            raise ValueError(f"{path}: expected an image ({', '.join(IMAGE_SUFFIXES)}) or .npy")
    return names, np.concatenate(arrays)


def cmd_evaluate(args) -> int:
    from tasks import make_task
    from tasks.data import DataError, load_source
    from tasks.data.checks import check_data
    from tasks.data.pipeline import Pipeline
    from rundir.loader import RunError, load_run
    from trainer.step import make_predict
    try:
        run = load_run(args.run_dir, plugins=args.plugin)
        task = make_task(run.spec)
        source = load_source(args.data or run.info.get("dataset", "shapes"),
                             args.data_dir or run.info.get("data_dir"))
        check_data(source, run.spec, task)
        split = args.split or ("test" if "test" in source.splits else "validation")
        if split not in source.splits:
            raise DataError(f"dataset {source.name} has no split {split!r} (it has "
                            f"{', '.join(source.splits)})")
        pipeline = Pipeline(source, task, run.spec, batch_size=args.batch_size, cache=False)
        result = task.evaluate(make_predict(run.model), pipeline, split)
    except (RunError, DataError) as exc:
        print(f"kspec evaluate: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    report = {"run": args.run_dir, "weights": run.weights, "split": split, **result}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.run_dir}: split {split}, weights {run.weights}")
        for key, value in result.items():
            print(f"  {key:24s} {value:.4f}" if isinstance(value, float) else f"  {key:24s} {value}")
    return 0


def cmd_predict(args) -> int:
    from tasks import make_task
    from tasks.data.pipeline import normalize
    from rundir.loader import RunError, load_run
    try:
        run = load_run(args.run_dir, plugins=args.plugin)
        names, raw = read_inputs(args.inputs, run.spec.input)
    except (RunError, ValueError) as exc:
        print(f"kspec predict: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    task = make_task(run.spec)
    x = normalize(raw, run.spec.input) if len(run.spec.input["shape"]) == 3 else raw
    outputs = run.model.predict(x, verbose=0, batch_size=64)
    decoded = task.decode(outputs, tuple(run.info.get("class_names", ())))
    for i, (name, item) in enumerate(zip(names, decoded)):
        if "mask" in item:  # a whole mask is no line to read: it goes to a PNG file
            item = {**item, "mask": _write_mask(item["mask"], args.masks, i, name)}
        print(json.dumps({"input": name, **item}))
    if args.draw:
        from tasks.draw import draw_predictions
        written = draw_predictions(task, raw, decoded, names, args.draw,
                                   tuple(run.info.get("class_names", ())))
        print(f"pictures: {len(written)} written to {args.draw}", file=sys.stderr)
    return 0


def _write_mask(mask, folder: str, index: int, name: str) -> str:
    """Class ids as the pixel values of a PNG (0 = background); returns its path."""
    from PIL import Image
    os.makedirs(folder, exist_ok=True)
    stem = os.path.splitext(os.path.basename(name.split("[")[0]))[0] or "input"
    path = os.path.join(folder, f"{index:03d}_{stem}_mask.png")
    Image.fromarray(np.asarray(mask, np.uint8)).save(path)
    return path


def cmd_embed(args) -> int:
    import keras

    from tasks.data.pipeline import normalize
    from rundir.loader import RunError, load_run
    try:
        run = load_run(args.run_dir, plugins=args.plugin)
        layer = run.model.get_layer(run.spec.graph.ids.get(args.layer, args.layer))
        names, raw = read_inputs(args.inputs, run.spec.input)
    except (RunError, ValueError) as exc:
        print(f"kspec embed: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    encoder = keras.Model(run.model.input, layer.output)
    x = normalize(raw, run.spec.input) if len(run.spec.input["shape"]) == 3 else raw
    features = encoder.predict(x, verbose=0, batch_size=64)
    np.save(args.out, features)
    print(f"{args.out}: {features.shape} features from layer {layer.name} for {len(names)} "
          "inputs")
    return 0


def add_commands(sub, common) -> None:
    p = sub.add_parser("evaluate", parents=[common], help="metrics of a run's best weights on its test split")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--data", default=None, help="another dataset (default: the run's)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--split", default=None, help="default: test (or validation)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--json", action="store_true", help="one JSON line instead of a table")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("predict", parents=[common], help="predictions for image files or a .npy batch")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--draw", default=None, metavar="DIR",
                   help="also write pictures with the predictions drawn on them")
    p.add_argument("--masks", default="masks", metavar="DIR",
                   help="segmentation: where the predicted masks are written as PNG files "
                   "(default: masks/)")
    p.set_defaults(func=cmd_predict)
    p = sub.add_parser("embed", parents=[common], help="features from a named layer, written as .npy")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--layer", required=True, help="layer name or id to cut the model at")
    p.add_argument("--out", default="features.npy")
    p.set_defaults(func=cmd_embed)
