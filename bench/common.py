"""Rows, timing and the small setup the comparisons share."""
from __future__ import annotations

from dataclasses import asdict, dataclass

ROUNDS = 3  # ours and the reference alternate this many times; each reports its best
NOISY_ROUNDS = 5  # for rows whose rounds of a second vary by more than their bar's margin


@dataclass
class Row:
    """One comparison. `bar` is what the ratio must meet (">= 0.95", "<= 0.3", or "" for
    a measurement with no bar); `verified` whether the artifacts behind it passed their
    checks (None where nothing is verified); `ranges` any spread the page quotes;
    `rounds` how many alternated rounds each side's best is taken from (None where the
    row is not alternated: sizes, and the verifier's single latency measurement)."""

    what: str
    unit: str
    ours: float
    reference: float
    note: str = ""
    bar: str = ""
    verified: bool | None = None
    ranges: dict | None = None
    rounds: int | None = None

    @property
    def ratio(self) -> float:
        return self.ours / self.reference if self.reference else float("nan")

    @property
    def met(self) -> bool | None:
        """Whether the ratio meets the bar (None without a bar); a failed verification
        never meets it."""
        if not self.bar:
            return None
        op, value = self.bar.split()
        ok = self.ratio >= float(value) if op == ">=" else self.ratio <= float(value)
        return ok and self.verified is not False

    def as_dict(self) -> dict:
        out = {**asdict(self), "ratio": self.ratio, "met": self.met}
        return {k: v for k, v in out.items() if v is not None and v != ""}


def alternate(a, b, rounds: int):
    """Runs a and b alternately (a, b, a, b ...); returns the best of each."""
    best_a = best_b = 0.0
    for _ in range(rounds):
        best_a = max(best_a, a())
        best_b = max(best_b, b())
    return best_a, best_b


def table(rows) -> str:
    head = ("what", "unit", "ours", "reference", "ratio", "bar")
    body = [(r.what, r.unit, f"{r.ours:,.4g}", f"{r.reference:,.4g}", f"{r.ratio:.3f}",
             (r.bar + (" met" if r.met else " MISSED")) if r.bar else "") for r in rows]
    widths = [max(len(x[i]) for x in [head] + body) for i in range(6)]
    fmt = lambda row: "  ".join(c.ljust(w) if i in (0, 1, 5) else c.rjust(w)  # noqa: E731
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
