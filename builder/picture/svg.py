"""Writes a laid-out picture as one self-contained SVG file (no scripts, no fonts to fetch)."""
from __future__ import annotations

from html import escape

from .layout import Picture

COLOURS = {"conv": "#dbeafe", "pool": "#dcfce7", "norm": "#f3f4f6", "act": "#ffedd5",
           "merge": "#ede9fe", "dense": "#fee2e2", "block": "#fef9c3", "io": "#e0f2fe",
           "other": "#f5f5f4"}
FONT = "font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"12\""


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def box_elements(pic: Picture) -> list[str]:
    out = []
    for f in pic.frames:
        out.append(f'<g class="frame"><rect x="{_num(f.x)}" y="{_num(f.y)}" width="{_num(f.w)}" '
                   f'height="{_num(f.h)}" rx="8" fill="none" stroke="#a8a29e" '
                   f'stroke-dasharray="5 4"/><text x="{_num(f.x + 8)}" y="{_num(f.y + 15)}" '
                   f'{FONT} fill="#57534e">{escape(f.title)}</text></g>')
    for b in pic.boxes:
        out.append(f'<g class="box {b.kind}" id="{escape(b.id)}"><title>{escape(b.id)}: '
                   f'{escape(b.title)}, {escape(b.detail)}</title><rect x="{_num(b.x)}" '
                   f'y="{_num(b.y)}" width="{_num(b.w)}" height="{_num(b.h)}" rx="5" '
                   f'fill="{COLOURS[b.family]}" '
                   f'stroke="#57534e"/><text x="{_num(b.x + 10)}" y="{_num(b.y + 16)}" {FONT} '
                   f'font-weight="bold">{escape(b.title)}</text><text x="{_num(b.x + 10)}" '
                   f'y="{_num(b.y + 32)}" {FONT} fill="#44403c">{escape(b.detail)}</text></g>')
    return out


def edge_elements(pic: Picture) -> list[str]:
    return [f'<polyline class="edge" data-from="{escape(e.src)}" data-to="{escape(e.dst)}" '
            f'points="{" ".join(f"{_num(x)},{_num(y)}" for x, y in e.points)}" fill="none" '
            f'stroke="#44403c" marker-end="url(#arrow)"/>' for e in pic.edges]


def to_svg(pic: Picture) -> str:
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(pic.width)}" '
             f'height="{_num(pic.height)}" viewBox="0 0 {_num(pic.width)} {_num(pic.height)}">',
             f'<title>{escape(pic.title)}</title>',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#44403c"/>'
             '</marker></defs>',
             '<rect width="100%" height="100%" fill="white"/>']
    parts += box_elements(pic) + edge_elements(pic)
    if pic.note:
        parts.append(f'<text x="16" y="{_num(pic.height - 12)}" {FONT} fill="#57534e">'
                     f'{escape(pic.note)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
