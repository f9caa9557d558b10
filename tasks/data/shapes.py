"""The built-in `shapes` dataset as a real TFDS builder (no download step).

`tfds.load("shapes")` and `--data shapes` work offline once this module is
imported: the first load generates the data into the TFDS data directory, later
loads reuse it. Two configurations: `single` (one shape per image, the
default) and `multi` (one to four shapes, for detection and segmentation).
Other sizes: `shapes/single:image_size=96,train=2000` (see `parse_config`).
"""
from __future__ import annotations

import tensorflow_datasets as tfds

from .shapes_draw import CLASSES, DrawSettings, draw_example

SPLIT_SIZES = {"train": 6000, "validation": 1000, "test": 1000}
# Every split needs an example (TFDS refuses to write an empty one); the upper bounds
# keep a typo from drawing for hours.
OPTION_RANGES = {"image_size": (16, 1024), "train": (1, 1_000_000), "validation": (1, 100_000),
                 "test": (1, 100_000), "seed": (0, 2 ** 31 - 1), "noise": (0.0, 255.0)}
OPTIONS = tuple(OPTION_RANGES)


class ShapesConfig(tfds.core.BuilderConfig):
    """Image size, shapes per image, split sizes and seed of one `shapes` variant."""

    def __init__(self, *, name: str, min_shapes: int = 1, max_shapes: int = 1,
                 image_size: int = 64, noise: float = 12.0, seed: int = 0,
                 train: int = SPLIT_SIZES["train"], validation: int = SPLIT_SIZES["validation"],
                 test: int = SPLIT_SIZES["test"], **kwargs):
        super().__init__(name=name, version=tfds.core.Version("1.1.0"),
                         description=f"{min_shapes}-{max_shapes} shapes, {image_size}px", **kwargs)
        self.draw = DrawSettings(image_size, min_shapes, max_shapes, noise, seed)
        self.sizes = {"train": train, "validation": validation, "test": test}


class Shapes(tfds.core.GeneratorBasedBuilder):
    """Filled circles, squares, triangles and diamonds on noise, with boxes and masks."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.1.0": "shapes always stand out in luminance; larger single shapes"}
    BUILDER_CONFIGS = [ShapesConfig(name="single"),
                       ShapesConfig(name="multi", min_shapes=1, max_shapes=4)]

    def _info(self):
        n = self.builder_config.draw.image_size
        label = tfds.features.ClassLabel(names=CLASSES)
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(n, n, 3)),
                "label": label,
                "bbox": tfds.features.BBoxFeature(),
                "objects": tfds.features.Sequence({"bbox": tfds.features.BBoxFeature(),
                                                   "label": label}),
                "segmentation_mask": tfds.features.Image(shape=(n, n, 1)),
                "instance_mask": tfds.features.Image(shape=(n, n, 1)),
            }),
            supervised_keys=("image", "label"),
            description="Synthetic shapes for every kspec task; generated locally.",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download: the data is drawn here
        return {split: self._generate_examples(split, size)
                for split, size in self.builder_config.sizes.items()}

    def _generate_examples(self, split, size):
        for i in range(size):
            yield i, draw_example(split, i, self.builder_config.draw)


def parse_config(text: str) -> ShapesConfig | str:
    """`single` -> "single"; `multi:image_size=96,train=2000` -> a named ShapesConfig."""
    name, _, opts = text.partition(":")
    base = {c.name: c for c in Shapes.BUILDER_CONFIGS}.get(name)
    if base is None:
        raise ValueError(f"unknown shapes config {name!r}; expected single or multi")
    if not opts:
        return name
    values = {}
    for part in opts.split(","):
        key, _, value = part.partition("=")
        if key not in OPTIONS:
            raise ValueError(f"unknown shapes option {key!r}; expected one of {', '.join(OPTIONS)}")
        try:
            values[key] = float(value) if key == "noise" else int(value)
        except ValueError:
            raise ValueError(f"shapes option {key} needs a number, received {value!r}") from None
        low, high = OPTION_RANGES[key]
        if not low <= values[key] <= high:
            raise ValueError(f"shapes option {key} must be between {low:,} and {high:,}, "
                             f"received {value}")
    d = base.draw
    kw = {"image_size": d.image_size, "noise": d.noise, "seed": d.seed, **base.sizes, **values}
    suffix = "_".join(f"{k}{v}" for k, v in sorted(values.items())).replace(".", "p")
    return ShapesConfig(name=f"{name}_{suffix}", min_shapes=d.min_shapes,
                        max_shapes=d.max_shapes, **kw)
