"""Where each box of a model picture goes, and how its arrows run.

The layout follows the outline the expansion records: a sequence stacks its parts
top to bottom, a `parallel` or `residual` item puts its branches side by side (an
identity shortcut is an empty lane its arrow runs down), and a block use is one box
(collapsed) or a frame around its parts (expanded). Boxes cannot overlap by
construction: each part gets a rectangle of its own inside its parent's.
Hand-written rather than Graphviz: no binary to install, the output is the same on
every machine, and the nesting of blocks and branches is the spec's own.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..graph import INPUT, Group
from ..layers._common import fmt

CHAR_W = 7.3  # px per character of the 12 px monospace text
BOX_H = 40
PAD_X = 10
MIN_W = 110
GAP_Y = 26  # between boxes of a sequence: room for arrows
GAP_X = 22  # between branches
LANE_W = 18  # an empty branch (identity shortcut)
FRAME_PAD = 10
FRAME_LABEL = 20
MARGIN = 16
SKIP_STEP = 8  # px between the lanes of successive long skips on the right


@dataclass
class Box:
    """One drawn box: a layer, a collapsed block, or the input."""

    id: str
    kind: str  # "layer" | "block" | "input"
    family: str  # colour family: conv, pool, norm, act, merge, dense, block, io, other
    title: str
    detail: str
    members: tuple  # graph node names this box stands for
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = BOX_H


@dataclass
class Frame:
    """An expanded block: a dashed rectangle with the block's name and arguments."""

    title: str
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0


@dataclass
class Edge:
    src: str  # box ids
    dst: str
    points: list = field(default_factory=list)


@dataclass
class Picture:
    title: str
    boxes: list
    frames: list
    edges: list
    width: float
    height: float
    note: str = ""


# -- the view: boxes, sequences, branches side by side, frames --------------------------
@dataclass
class _Seq:
    parts: list


@dataclass
class _Par:
    branches: list  # of _Seq; an empty one is a lane


@dataclass
class _Framed:
    frame: Frame
    seq: _Seq


FAMILIES = {"conv": ("conv", "depthwise_conv", "separable_conv", "conv_transpose"),
            "pool": ("maxpool", "avgpool", "globalavgpool", "globalmaxpool", "upsample"),
            "norm": ("batchnorm", "lrn", "dropout"),
            "act": ("relu", "relu6", "leaky_relu", "sigmoid", "tanh", "elu", "gelu", "swish",
                    "softmax", "linear"),
            "merge": ("add", "concat"), "dense": ("dense",)}


def family(layer_type: str) -> str:
    for name, members in FAMILIES.items():
        if layer_type in members:
            return name
    return "other"


def brief_args(node) -> str:
    """The few arguments that tell layers apart: `64 3x3 /2 same`, `0.5`, `relu`."""
    a = node.args
    out = []
    for key in ("filters", "units", "rate", "channels", "slope"):
        if key in a and a[key] is not None:
            out.append(str(list(a[key]) if isinstance(a[key], tuple) else a[key]))
    for key in ("kernel", "size"):
        if isinstance(a.get(key), tuple):
            out.append("x".join(map(str, a[key])))
    strides = a.get("strides")
    if isinstance(strides, tuple) and strides != (1, 1):
        out.append("/" + "x".join(map(str, sorted(set(strides)))))
    if a.get("padding") == "same":
        out.append("same")
    if a.get("activation") not in (None, "linear"):
        out.append(a["activation"])
    return " ".join(out)


def _shape_text(shapes, name) -> str:
    inferred = shapes.get(name)
    return fmt(inferred.shape) if inferred else "?"


def _params_text(n: int) -> str:
    return f"{n:,} params" if n else "no params"


def _arg_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _ViewBuilder:
    def __init__(self, spec, depth: int):
        self.spec, self.depth, self.nodes = spec, depth, {n.name: n for n in spec.graph.nodes}
        self.boxes: list[Box] = []
        self.frames: list[Frame] = []
        self.blocks = 0

    def seq(self, group: Group, depth: int) -> _Seq:
        parts = []
        for child in group.children:
            if isinstance(child, str):
                parts.append(self.layer_box(child))
            elif child.kind == "block" and depth <= 0:
                parts.append(self.block_box(child))
            elif child.kind == "block":
                frame = Frame(self.block_title(child))
                self.frames.append(frame)
                parts.append(_Framed(frame, self.seq(child, depth - 1)))
            elif child.kind in ("parallel", "residual"):
                parts.append(_Par([self.seq(b, depth) for b in child.children]))
            else:  # the head, or a branch met outside its parallel
                parts.extend(self.seq(child, depth).parts)
        return _Seq(parts)

    def layer_box(self, name: str) -> Box:
        node = self.nodes[name]
        inferred = self.spec.shapes.get(name)
        params = inferred.params if inferred else 0
        box = Box(name, "layer", family(node.type), f"{node.type} {brief_args(node)}".strip(),
                  f"{_shape_text(self.spec.shapes, name)} {_params_text(params)}", (name,))
        self.boxes.append(box)
        return box

    def block_title(self, group: Group) -> str:
        args = ", ".join(f"{k}={_arg_text(v)}" for k, v in group.args.items())
        return f"{group.label}({args})"

    def block_box(self, group: Group) -> Box:
        members = tuple(_members(group))
        params = sum(self.spec.shapes[m].params for m in members if m in self.spec.shapes)
        out = _shape_text(self.spec.shapes, members[-1]) if members else "?"
        self.blocks += 1
        box = Box(f"block{self.blocks}", "block", "block", self.block_title(group),
                  f"{len(members)} layers {out} {_params_text(params)}", members)
        self.boxes.append(box)
        return box


def _members(group: Group):
    for child in group.children:
        if isinstance(child, str):
            yield child
        else:
            yield from _members(child)


# -- measuring and placing --------------------------------------------------------------
def _size(part) -> tuple[float, float]:
    if isinstance(part, Box):
        part.w = max(MIN_W, CHAR_W * max(len(part.title), len(part.detail)) + 2 * PAD_X)
        return part.w, part.h
    if isinstance(part, _Seq):
        sizes = [_size(p) for p in part.parts]
        if not sizes:
            return LANE_W, 0.0
        return max(w for w, _ in sizes), sum(h for _, h in sizes) + GAP_Y * (len(sizes) - 1)
    if isinstance(part, _Par):
        sizes = [_size(b) for b in part.branches]
        return (sum(w for w, _ in sizes) + GAP_X * (len(sizes) - 1), max(h for _, h in sizes))
    w, h = _size(part.seq)
    label_w = CHAR_W * len(part.frame.title) + 2 * FRAME_PAD
    return max(w + 2 * FRAME_PAD, label_w), h + 2 * FRAME_PAD + FRAME_LABEL


def _place(part, x: float, y: float, width: float) -> None:
    """Puts `part` in the column [x, x + width) from the top `y`, centred."""
    w, h = _size(part)
    left = x + (width - w) / 2
    if isinstance(part, Box):
        part.x, part.y = left, y
    elif isinstance(part, _Seq):
        for p in part.parts:
            pw, ph = _size(p)
            _place(p, left, y, w)
            y += ph + GAP_Y
    elif isinstance(part, _Par):
        for b in part.branches:
            bw, _ = _size(b)
            _place(b, left, y, bw)
            left += bw + GAP_X
    else:
        part.frame.x, part.frame.y, part.frame.w, part.frame.h = left, y, w, h
        inner_w, _ = _size(part.seq)
        _place(part.seq, left + (w - inner_w) / 2, y + FRAME_PAD + FRAME_LABEL, inner_w)


# -- arrows -----------------------------------------------------------------------------
def _edges(spec, boxes: list[Box]) -> list[Edge]:
    owner = {m: b.id for b in boxes for m in b.members}
    out, seen = [], set()
    for node in spec.graph.nodes:
        for src in node.inputs:
            pair = (owner.get(src), owner.get(node.name))
            if None in pair or pair[0] == pair[1] or pair in seen:
                continue
            seen.add(pair)
            out.append(Edge(*pair))
    return out


def _blocked(x: float, top: float, bottom: float, boxes, skip) -> bool:
    return any(b.id not in skip and b.x - 2 <= x <= b.x + b.w + 2 and b.y < bottom
               and b.y + b.h > top for b in boxes)


def _route(edges: list[Edge], boxes: list[Box]) -> None:
    """Points for each arrow: straight down, or through a free lane beside the boxes in
    the way (past the rightmost box when there is none)."""
    by_id = {b.id: b for b in boxes}
    right = max(b.x + b.w for b in boxes)
    skips, used = 0, []
    fan_in = {b.id: sum(e.dst == b.id for e in edges) for b in boxes}
    for e in edges:
        s, d = by_id[e.src], by_id[e.dst]
        sx, sy = s.x + s.w / 2, s.y + s.h
        dx, dy = d.x + d.w / 2, d.y
        if dy <= sy:  # drawn upwards: cannot happen in a feed-forward spec, kept safe
            e.points = [(sx, sy), (dx, dy)]
            continue
        top, bottom = sy + GAP_Y / 2, dy - GAP_Y / 2
        skip = {e.src, e.dst}
        if abs(sx - dx) < 0.5 and not _blocked(sx, sy, dy, boxes, skip):
            e.points = [(sx, sy), (dx, dy)]
            continue
        # A lane between the rows: first try the ends' own columns, then beside the
        # boxes in the way (an identity shortcut's empty lane lies there).
        band = [b for b in boxes if b.id not in skip and b.y < bottom and b.y + b.h > top]
        # Into a merge: down the source's own column, then across the gap above the merge;
        # otherwise across the gap below the source, then down the target's column.
        ends = [sx, dx] if fan_in[e.dst] > 1 else [dx, sx]
        candidates = ends + sorted({v for b in band for v in (b.x - GAP_X / 2,
                                                                  b.x + b.w + GAP_X / 2)},
                                       key=lambda v: abs(v - (sx + dx) / 2))
        lane = next((c for c in candidates if not _blocked(c, top, bottom, boxes, skip)), None)
        if lane is None:
            skips += 1
            lane = right + GAP_X / 2 + skips * SKIP_STEP
        elif lane not in ends:
            lane = _free_lane(lane, top, bottom, used, away_from=(sx + dx) / 2)
        used.append((lane, top, bottom))
        e.points = [(sx, sy), (sx, top), (lane, top), (lane, bottom), (dx, bottom), (dx, dy)]


def _free_lane(x: float, top: float, bottom: float, used: list, away_from: float) -> float:
    """`x`, or moved outwards in steps until no other arrow runs down the same lane over
    an overlapping stretch (two skips beside one column stay two lines)."""
    step = SKIP_STEP if x >= away_from else -SKIP_STEP
    while any(abs(ux - x) < 1 and ut < bottom and ub > top for ux, ut, ub in used):
        x += step
    return x


def layout(spec, depth: int = 0) -> Picture:
    """The picture of `spec`: blocks nested deeper than `depth` are collapsed boxes."""
    vb = _ViewBuilder(spec, depth)
    shape = tuple(spec.input.get("shape") or ())
    preprocess = spec.input.get("preprocess") or ""
    inp = Box(INPUT, "input", "io", "input", f"{fmt(shape)} {preprocess}".strip(), (INPUT,))
    vb.boxes.append(inp)
    body = vb.seq(spec.graph.outline, depth)
    root = _Seq([inp] + body.parts)
    w, h = _size(root)
    _place(root, MARGIN, MARGIN, w)
    edges = _edges(spec, vb.boxes)
    _route(edges, vb.boxes)
    # Lanes beside the leftmost boxes may run past the margin: move everything right.
    shift = max(0.0, MARGIN / 2 - min((x for e in edges for x, _ in e.points), default=MARGIN))
    if shift:
        for item in vb.boxes + vb.frames:
            item.x += shift
        for e in edges:
            e.points = [(x + shift, y) for x, y in e.points]
    note = ""
    if spec.head.get("classes", 0) is None:
        note = f"{spec.task} head: classes come from the dataset at training"
    right = max([b.x + b.w for b in vb.boxes] + [f.x + f.w for f in vb.frames]
                + [x for e in edges for x, _ in e.points])
    return Picture(spec.name, vb.boxes, vb.frames, edges, right + MARGIN,
                   h + 2 * MARGIN + (GAP_Y if note else 0), note)
