"""Rows, timing and the small setup the comparisons share."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Row:
    what: str
    unit: str
    ours: float
    reference: float
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.reference if self.reference else float("nan")

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


def alternate(a, b, rounds: int):
    """Runs a and b alternately (a, b, a, b ...); returns the best of each."""
    best_a = best_b = 0.0
    for _ in range(rounds):
        best_a = max(best_a, a())
        best_b = max(best_b, b())
    return best_a, best_b


def table(rows) -> str:
    head = ("what", "unit", "ours", "reference", "ratio")
    body = [(r.what, r.unit, f"{r.ours:,.4g}", f"{r.reference:,.4g}", f"{r.ratio:.3f}")
            for r in rows]
    widths = [max(len(x[i]) for x in [head] + body) for i in range(5)]
    fmt = lambda row: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)  # noqa: E731
                                for i, (c, w) in enumerate(zip(row, widths)))
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths)] + [fmt(b) for b in body])


def in_memory(dataset, batches: int):
    """The first `batches` batches of a dataset, held in memory and repeated."""
    import tensorflow as tf
    xs, ys = [], []
    for x, y in dataset.take(batches):
        xs.append(x)
        ys.append(y)
    x = tf.concat(xs, 0)
    y = tf.nest.map_structure(lambda *t: tf.concat(t, 0), *ys)
    size = int(xs[0].shape[0])
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(size, drop_remainder=True) \
        .cache().repeat().prefetch(tf.data.AUTOTUNE)
