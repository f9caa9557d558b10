"""Writes a model picture as one self-contained HTML page whose blocks open and close.

Here the browser does the layout: a sequence is a flex column, branches a flex row,
and a block use a `<details>` element (closed: one box with its name and arguments;
open: a frame around its parts). A short inline script draws the arrows over the page
from each layer to its consumers, ending at the box that shows it now (a closed
block's box when the layer is inside one), and draws them again when a block opens
or closes. No network, no fonts or libraries to fetch.
"""
from __future__ import annotations

import json
from html import escape

from ..graph import INPUT, Group
from ..layers._common import fmt
from .layout import _arg_text, _members, _params_text, _shape_text, brief_args, family
from .svg import COLOURS

STYLE = """
body { font: 12px "DejaVu Sans Mono", Menlo, Consolas, monospace; margin: 16px;
       color: #1c1917; background: white; }
h1 { font-size: 15px; margin: 0 0 4px 0; }
.bar { margin-bottom: 14px; color: #57534e; }
.bar button { font: inherit; margin-right: 6px; }
#picture { position: relative; display: inline-block; }
#edges { position: absolute; left: 0; top: 0; pointer-events: none; overflow: visible; }
.seq { display: flex; flex-direction: column; align-items: center; gap: 26px; }
.par { display: flex; flex-direction: row; align-items: flex-start; gap: 22px; }
.lane { width: 18px; }
.box { border: 1px solid #57534e; border-radius: 5px; padding: 4px 10px; min-width: 90px;
       white-space: nowrap; position: relative; z-index: 1; }
.box b { display: block; }
.box span { color: #44403c; }
details > summary { list-style: none; cursor: pointer; }
details > summary::-webkit-details-marker { display: none; }
details > summary .box b::before { content: "\\25b8 "; }
details[open] > summary .box { border-style: dashed; background: white !important; }
details[open] > summary .box b::before { content: "\\25be "; }
details[open] > summary .box span { display: none; }
.frame { border: 1px dashed #a8a29e; border-radius: 8px; padding: 10px; margin-top: 8px; }
.note { margin-top: 16px; color: #57534e; }
"""

SCRIPT = """
const EDGES = JSON.parse(document.getElementById("edge-data").textContent);
function shown(name) {
  // The box showing layer `name` now: its own, or that of the outermost closed block.
  let el = document.getElementById("n-" + name), box = el;
  for (let p = el && el.parentElement; p; p = p.parentElement) {
    if (p.tagName === "DETAILS" && !p.open) box = p.querySelector(":scope > summary .box");
  }
  return box;
}
function draw() {
  const pic = document.getElementById("picture"), svg = document.getElementById("edges");
  const origin = pic.getBoundingClientRect();
  svg.setAttribute("width", pic.scrollWidth); svg.setAttribute("height", pic.scrollHeight);
  const done = new Set(), paths = [];
  for (const [src, dst] of EDGES) {
    const a = shown(src), b = shown(dst);
    if (!a || !b || a === b) continue;
    const key = a.dataset.box + ">" + b.dataset.box;
    if (done.has(key)) continue;
    done.add(key);
    const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
    const x1 = r.left + r.width / 2 - origin.left, y1 = r.bottom - origin.top;
    const x2 = s.left + s.width / 2 - origin.left, y2 = s.top - origin.top;
    const bend = Math.max(12, Math.min(60, (y2 - y1) / 2));
    paths.push('<path class="edge" data-from="' + a.dataset.box + '" data-to="' +
               b.dataset.box + '" d="M' + x1 + ',' + y1 + ' C' + x1 + ',' + (y1 + bend) +
               ' ' + x2 + ',' + (y2 - bend) + ' ' + x2 + ',' + y2 +
               '" fill="none" stroke="#44403c" marker-end="url(#arrow)"/>');
  }
  svg.innerHTML = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" ' +
    'markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" ' +
    'fill="#44403c"/></marker></defs>' + paths.join("");
  document.body.dataset.edges = String(paths.length);
}
function openAll(open) {
  document.querySelectorAll("details").forEach(d => { d.open = open; });
  draw();
}
document.querySelectorAll("details").forEach(d => d.addEventListener("toggle", draw));
window.addEventListener("resize", draw);
if (location.hash === "#open") openAll(true); else draw();
"""


class _Page:
    def __init__(self, spec):
        self.spec, self.nodes = spec, {n.name: n for n in spec.graph.nodes}
        self.blocks = 0

    def box(self, box_id: str, fam: str, title: str, detail: str, tip: str,
            element_id: str = "") -> str:
        ident = f' id="{escape(element_id)}"' if element_id else ""
        return (f'<div class="box"{ident} data-box="{escape(box_id)}" title="{escape(tip)}" '
                f'style="background:{COLOURS[fam]}"><b>{escape(title)}</b>'
                f'<span>{escape(detail)}</span></div>')

    def layer(self, name: str) -> str:
        node = self.nodes[name]
        inferred = self.spec.shapes.get(name)
        detail = f"{_shape_text(self.spec.shapes, name)} " \
                 f"{_params_text(inferred.params if inferred else 0)}"
        return self.box(name, family(node.type), f"{node.type} {brief_args(node)}".strip(),
                        detail, name, f"n-{name}")

    def seq(self, group: Group) -> str:
        parts = []
        for child in group.children:
            if isinstance(child, str):
                parts.append(self.layer(child))
            elif child.kind == "block":
                parts.append(self.block(child))
            elif child.kind in ("parallel", "residual"):
                branches = [self.seq(b) if b.children else '<div class="lane"></div>'
                            for b in child.children]
                parts.append(f'<div class="par">{"".join(branches)}</div>')
            else:
                parts.append(self.seq(child))
        return f'<div class="seq">{"".join(parts)}</div>'

    def block(self, group: Group) -> str:
        self.blocks += 1
        members = list(_members(group))
        params = sum(self.spec.shapes[m].params for m in members if m in self.spec.shapes)
        out = _shape_text(self.spec.shapes, members[-1]) if members else "?"
        args = ", ".join(f"{k}={_arg_text(v)}" for k, v in group.args.items())
        title = f"{group.label}({args})"
        summary = self.box(f"block{self.blocks}", "block", title,
                           f"{len(members)} layers {out} {_params_text(params)}", title)
        return (f'<details><summary>{summary}</summary><div class="frame">'
                f'{self.seq(group)}</div></details>')


def to_html(spec) -> str:
    page = _Page(spec)
    shape = tuple(spec.input.get("shape") or ())
    inp = page.box(INPUT, "io", "input", fmt(shape), "input", f"n-{INPUT}")
    body = page.seq(spec.graph.outline)
    edges = [[src, node.name] for node in spec.graph.nodes for src in node.inputs]
    note = ""
    if spec.head.get("classes", 0) is None:
        note = (f'<div class="note">{escape(spec.task)} head: classes come from the dataset '
                "at training</div>")
    data = json.dumps(edges).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(spec.name)}</title>
<style>{STYLE}</style></head>
<body>
<h1>{escape(spec.name)}</h1>
<div class="bar">{len(spec.graph.nodes)} layers &middot; {_params_text(_total(spec))} &middot;
click a block to open it <button onclick="openAll(true)">open all</button>
<button onclick="openAll(false)">close all</button></div>
<div id="picture"><svg id="edges" xmlns="http://www.w3.org/2000/svg"></svg>
<div class="seq">{inp}{body}</div></div>{note}
<script type="application/json" id="edge-data">{data}</script>
<script>{SCRIPT}</script>
</body></html>
"""


def _total(spec) -> int:
    return sum(spec.shapes[n.name].params for n in spec.graph.nodes if n.name in spec.shapes)
