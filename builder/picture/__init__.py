"""`kspec draw`: a picture of a spec's architecture, as SVG or as an expandable HTML page.

`layout.py` places boxes and routes arrows (pure Python, from the shape pass);
`svg.py` and `html.py` write them out. Nothing here needs Keras, a browser or Graphviz.
"""
from .layout import Picture, layout

__all__ = ["Picture", "layout"]
