"""`kspec summary`: per-layer shapes, parameters, MACs and activation memory, from the shape pass.

No Keras is needed: the numbers come from the symbolic pass, and the tests
check them against `model.count_params()` for every zoo spec.
"""
from __future__ import annotations

from .layers._common import fmt, prod
from .shapes import totals
from .spec import Spec

BYTES_PER_VALUE = 4  # float32


def optimizer_slots(train: dict) -> int:
    """Arrays the optimizer keeps per trainable weight (Keras 3's optimizers)."""
    opt = train.get("optimizer") or {"name": "adam"}
    if opt["name"] in ("adam", "adamw"):
        return 2  # first and second moments
    if opt["name"] == "rmsprop":
        return 1 + (opt.get("momentum", 0) > 0)  # mean square, and momentum when used
    return 1 if opt.get("momentum", 0) > 0 else 0  # sgd: momentum


def activation_bytes(spec: Spec) -> int:
    """Forward activations of one image, float32: what the backward pass keeps alive."""
    return sum((prod(spec.shapes[n.name].shape) or 0) for n in spec.graph.nodes) * \
        BYTES_PER_VALUE


def training_bytes(spec: Spec, batch: int | None = None) -> dict:
    """Memory training holds, float32: weights, gradients and optimizer slots for the whole
    run, and the activations of one batch (`batch`, default the spec's batch size)."""
    t = totals(spec.graph, spec.shapes)
    weights = t["params"] * BYTES_PER_VALUE
    gradients = t["trainable"] * BYTES_PER_VALUE
    slots = t["trainable"] * optimizer_slots(spec.train) * BYTES_PER_VALUE
    batch = spec.train.get("batch_size") or 1 if batch is None else batch
    activations = activation_bytes(spec) * batch
    return {"weights": weights, "gradients": gradients, "optimizer": slots,
            "activations": activations, "batch": batch,
            "total": weights + gradients + slots + activations}


def summary_dict(spec: Spec) -> dict:
    """The summary as data; `trainable_params` counts what trains first (`train.freeze`
    applied), `trainable_unfrozen` what trains without it."""
    frozen = set(spec.train.get("freeze") or ())
    rows = []
    for node in spec.graph.nodes:
        inf = spec.shapes[node.name]
        rows.append({"name": node.name, "type": node.type, "output_shape": list(inf.shape),
                     "params": inf.params, "macs": inf.macs, "frozen": node.name in frozen,
                     "activation_bytes": (prod(inf.shape) or 0) * BYTES_PER_VALUE})
    t = totals(spec.graph, spec.shapes, frozen)
    return {"name": spec.name, "input_shape": list(spec.input["shape"]),
            "total_params": t["params"], "trainable_params": t["trainable"], "macs": t["macs"],
            "trainable_unfrozen": totals(spec.graph, spec.shapes)["trainable"],
            "weight_mb": t["params"] * BYTES_PER_VALUE / 1e6,
            "training_state_mb": (state := training_bytes(spec))["total"] / 1e6
            - state["activations"] / 1e6, "training_mb": state["total"] / 1e6,
            "batch_size": state["batch"],
            "optimizer": (spec.train.get("optimizer") or {}).get("name"),
            "head_pending": "classes" in spec.head and spec.head["classes"] is None,
            "activation_mb": sum(r["activation_bytes"] for r in rows) / 1e6, "layers": rows}


def summary_table(spec: Spec) -> str:
    d = summary_dict(spec)
    head = ("layer", "type", "output", "params", "MACs", "act. MB")
    body = [(r["name"], r["type"] + " (frozen)" * r["frozen"], fmt(tuple(r["output_shape"])),
             f"{r['params']:,}",
             f"{r['macs']:,}", f"{r['activation_bytes'] / 1e6:.3f}") for r in d["layers"]]
    widths = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
    line = lambda row: "  ".join(c.ljust(w) if i < 3 else c.rjust(w)  # noqa: E731
                                 for i, (c, w) in enumerate(zip(row, widths)))
    out = [f"{d['name']}: input {fmt(tuple(d['input_shape']))}", line(head),
           "  ".join("-" * w for w in widths)]
    out += [line(row) for row in body]
    frozen = ""
    if d["trainable_params"] != d["trainable_unfrozen"]:
        frozen = f" with train.freeze, {d['trainable_unfrozen']:,} without"
    out += ["", f"total params      {d['total_params']:,} (trainable {d['trainable_params']:,}"
                f"{frozen}; weights {d['weight_mb']:.1f} MB float32)",
            f"forward MACs      {d['macs']:,} ({d['macs'] / 1e9:.3f} G per image)",
            f"activations       {d['activation_mb']:.1f} MB per image (float32, forward)",
            f"training state    {d['training_state_mb']:.1f} MB (weights, gradients and "
            f"{d['optimizer']} slots, float32)",
            f"training          {d['training_mb']:.1f} MB at batch {d['batch_size']} (that "
            "state and the batch's activations)"]
    if d["head_pending"]:
        out.append(f"head              {spec.task}: classes come from the dataset at training "
                   "(not shown above)")
    return "\n".join(out)
