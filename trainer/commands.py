"""`kspec evaluate`, `kspec predict` and `kspec embed`: using a trained run directory."""
from __future__ import annotations

import json
import os
import sys

import numpy as np

from builder import EXIT_BAD_INPUT
from trainer.inputs import embed_target, read_inputs


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
    from builder.untrusted import output_folder
    try:
        run = load_run(args.run_dir, plugins=args.plugin)
        names, raw = read_inputs(args.inputs, run.spec.input)
        if args.draw:  # checked before anything is computed or written
            output_folder(args.draw, "--draw")
    except (RunError, ValueError) as exc:
        print(f"kspec predict: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    task = make_task(run.spec)
    x = normalize(raw, run.spec.input) if len(run.spec.input["shape"]) == 3 else raw
    outputs = run.model.predict(x, verbose=0, batch_size=64)
    decoded = task.decode(outputs, tuple(run.info.get("class_names", ())))
    if any("mask" in item for item in decoded):
        try:  # before the first line is printed
            output_folder(args.masks, "--masks")
        except ValueError as exc:
            print(f"kspec predict: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
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
    import io

    from PIL import Image

    from builder.untrusted import replace_file
    stem = os.path.splitext(os.path.basename(name.split("[")[0]))[0] or "input"
    path = os.path.join(folder, f"{index:03d}_{stem}_mask.png")
    png = io.BytesIO()
    Image.fromarray(np.asarray(mask, np.uint8)).save(png, format="PNG")
    replace_file(path, png.getvalue())
    return path


def cmd_embed(args) -> int:
    import keras

    from tasks.data.pipeline import normalize
    from rundir.loader import RunError, load_run
    from rundir.atomic import atomic_path
    try:
        out = embed_target(args.out)  # before the run is loaded: a wrong --out fails fast
        run = load_run(args.run_dir, plugins=args.plugin)
        layer = run.model.get_layer(run.spec.graph.ids.get(args.layer, args.layer))
        names, raw = read_inputs(args.inputs, run.spec.input)
    except (RunError, ValueError) as exc:
        print(f"kspec embed: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    encoder = keras.Model(run.model.input, layer.output)
    x = normalize(raw, run.spec.input) if len(run.spec.input["shape"]) == 3 else raw
    features = encoder.predict(x, verbose=0, batch_size=64)
    with atomic_path(out) as tmp, open(tmp, "xb") as fh:  # an old file stays whole on a crash
        np.save(fh, features)
    print(f"{out}: {features.shape} features from layer {layer.name} for {len(names)} inputs")
    return 0


def _batch_size(text: str) -> int:
    """An integer from 1 to 65,536 (argparse turns the ValueError into an exit-2 message)."""
    value = int(text)
    if not 1 <= value <= 65536:
        raise ValueError(text)
    return value


_batch_size.__name__ = "batch size (an integer from 1 to 65,536)"


def add_commands(sub, common) -> None:
    from builder.untrusted import data_dir_option
    p = sub.add_parser("evaluate", parents=[common], help="metrics of a run's best weights on its test split")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--data", default=None, help="another dataset (default: the run's)")
    p.add_argument("--data-dir", default=None, type=data_dir_option)
    p.add_argument("--split", default=None, help="default: test (or validation)")
    p.add_argument("--batch-size", type=_batch_size, default=64, help="1 to 65,536")
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
    p.add_argument("--out", default="features.npy", metavar="FILE.npy",
                   help="the .npy file to write (.npy is added if left out)")
    p.set_defaults(func=cmd_embed)
