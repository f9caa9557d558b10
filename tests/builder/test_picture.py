"""`kspec draw`: the layout has no overlapping boxes and every arrow joins two drawn boxes;
the HTML page renders in a real headless browser, with its arrows drawn by its script."""
import itertools
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from builder import load_spec
from builder.picture import layout
from builder.picture.html import to_html
from builder.picture.svg import to_svg
from builder.summary import summary_dict
from tests.conftest import ROOT, SPECS

ZOO = sorted(SPECS.glob("*.yaml"))
CLASSES = {"lenet5": ["head.classes=10"]}


def spec_of(path):
    return load_spec(path, CLASSES.get(path.stem, []))


def check_layout(pic):
    boxes = {b.id: b for b in pic.boxes}
    assert len(boxes) == len(pic.boxes), "box ids are unique"
    for a, b in itertools.combinations(pic.boxes, 2):
        apart = (a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y)
        assert apart, f"{a.id} and {b.id} overlap"
    for item in pic.boxes + pic.frames:
        assert 0 <= item.x and item.x + item.w <= pic.width
        assert 0 <= item.y and item.y + item.h <= pic.height
    for e in pic.edges:
        s, d = boxes[e.src], boxes[e.dst]  # both ends are drawn boxes
        (x0, y0), (x1, y1) = e.points[0], e.points[-1]
        assert s.x <= x0 <= s.x + s.w and y0 == pytest.approx(s.y + s.h), e
        assert d.x <= x1 <= d.x + d.w and y1 == pytest.approx(d.y), e
        assert all(0 <= x <= pic.width and 0 <= y <= pic.height for x, y in e.points)


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
def test_every_zoo_picture_has_no_overlaps_and_joined_arrows(path):
    spec = spec_of(path)
    for depth in (0, 1, 3):
        pic = layout(spec, depth)
        check_layout(pic)
        members = [m for b in pic.boxes for m in b.members]
        assert sorted(members) == sorted(["input"] + [n.name for n in spec.graph.nodes])


def test_fully_open_picture_draws_one_arrow_per_connection():
    spec = load_spec(SPECS / "resnet50.yaml")
    pic = layout(spec, depth=10)
    pairs = {(src, n.name) for n in spec.graph.nodes for src in n.inputs}
    assert {(e.src, e.dst) for e in pic.edges} == pairs
    assert len(pic.boxes) == len(spec.graph.nodes) + 1 and len(pic.frames) == 4 + 16


def test_the_deepest_zoo_networks_stay_readable_closed():
    """ResNet-152 and GoogLeNet with each block use as one box."""
    resnet = layout(load_spec(SPECS / "resnet152.yaml"))
    assert len(resnet.boxes) == 13 and resnet.height < 1000
    stages = [b for b in resnet.boxes if b.kind == "block"]
    assert [b.title for b in stages] == [
        "stage(filters=64, blocks=3, stride=1)", "stage(filters=128, blocks=8, stride=2)",
        "stage(filters=256, blocks=36, stride=2)", "stage(filters=512, blocks=3, stride=2)"]
    rows = summary_dict(load_spec(SPECS / "resnet152.yaml"))["layers"]
    third = [r for r in rows if r["name"].startswith("stage8.")]
    assert stages[2].detail == (f"{len(third)} layers (14, 14, 1024) "
                                f"{sum(r['params'] for r in third):,} params")
    assert len(third) == 36 * 10 + 2  # 8 layers, add and relu per bottleneck; a projection
    googlenet = layout(load_spec(SPECS / "googlenet.yaml"))
    assert len(googlenet.boxes) == 22 and googlenet.width < 500


def test_residual_skips_run_down_their_own_lane():
    pic = layout(load_spec(SPECS / "resnet18.yaml"), depth=2)
    boxes = {b.id: b for b in pic.boxes}
    skips = [e for e in pic.edges if boxes[e.dst].title.startswith("add")
             and len(e.points) > 2 and boxes[e.src].y + boxes[e.src].h + 30 < boxes[e.dst].y]
    assert skips
    for e in skips:  # the vertical run crosses no box
        lane, (top, bottom) = e.points[2][0], (e.points[2][1], e.points[3][1])
        assert not any(b.x <= lane <= b.x + b.w and b.y < bottom and b.y + b.h > top
                       for b in pic.boxes)


def test_svg_is_well_formed_deterministic_and_self_contained():
    spec = load_spec(SPECS / "googlenet.yaml")
    text = to_svg(layout(spec, 1))
    assert text == to_svg(layout(load_spec(SPECS / "googlenet.yaml"), 1))
    root = ET.fromstring(text)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}g")) == len(layout(spec, 1).boxes) + len(layout(spec, 1).frames)
    assert "http" not in text.replace("http://www.w3.org/2000/svg", "")
    html = to_html(spec)
    assert "<script src" not in html and "<link" not in html and "@import" not in html


def run_draw(args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "kspec_cli.py"), "draw", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_draw_from_a_fresh_folder_with_relative_paths(tmp_path):
    shutil.copytree(SPECS, tmp_path / "specs")
    res = run_draw(["specs/resnet50.yaml"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "wrote resnet50.svg (resnet50: 13 boxes, 12 arrows)",
        "next: open resnet50.svg in a browser | kspec draw specs/resnet50.yaml --out "
        "resnet50.html"]
    ET.parse(tmp_path / "resnet50.svg")
    assert oct((tmp_path / "resnet50.svg").stat().st_mode & 0o777) != "0o600"
    res = run_draw(["specs/resnet50.yaml", "--out", "resnet50.html"], tmp_path)
    assert res.returncode == 0 and (tmp_path / "resnet50.html").stat().st_size > 10_000


@pytest.mark.parametrize("args, words", [
    (["specs/lenet5.yaml", "--out", "x.png"], "kspec draw writes .svg or .html files"),
    (["specs/lenet5.yaml", "--out", "missing/x.svg"], "cannot write missing/x.svg"),
    (["specs/lenet5.yaml", "--depth", "-1"], "--depth -1: expected 0 to 32"),
    (["specs/nope.yaml"], "nope.yaml"),
    (["specs/lenet5.yaml", "--out", "taken.svg"], "cannot write taken.svg"),
    (["broken.yaml"], "broken.yaml:3:"),
])
def test_draw_mistakes_are_exit_2_with_a_message(tmp_path, args, words):
    shutil.copytree(SPECS, tmp_path / "specs")
    (tmp_path / "broken.yaml").write_text("name: b\ninput: {shape: [8]}\nlayers: [dense: 0]\n")
    (tmp_path / "taken.svg").mkdir()  # a folder where the picture would go
    res = run_draw(args, tmp_path)
    assert res.returncode == 2 and words in res.stderr and "Traceback" not in res.stderr
    left = [p for p in os.listdir(tmp_path) if p not in ("specs", "broken.yaml", "taken.svg")]
    assert not left, left  # no picture, no temporary file


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not chromium(), reason="Debian's chromium is not installed (.ci/run "
                    "installs it)")
@pytest.mark.parametrize("name, closed_arrows", [("googlenet", 21), ("resnet152", 12)])
def test_html_renders_in_a_headless_browser(tmp_path, name, closed_arrows):
    from PIL import Image

    spec = load_spec(SPECS / f"{name}.yaml")
    page = tmp_path / f"{name}.html"
    page.write_text(to_html(spec))
    browser = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}"]

    def edges_drawn(url):
        dom = subprocess.run(browser + ["--dump-dom", url], capture_output=True, text=True,
                             timeout=120).stdout
        drawn = len(re.findall(r'<path class="edge" data-from="[^\']', dom))
        return int(dom.split('data-edges="', 1)[1].split('"', 1)[0]), drawn

    # Closed, every block is one box: as many arrows as the SVG at depth 0. Open, one arrow
    # per connection between layers.
    assert edges_drawn(page.as_uri()) == (closed_arrows, closed_arrows)
    pairs = {(src, n.name) for n in spec.graph.nodes for src in n.inputs}
    assert edges_drawn(page.as_uri() + "#open") == (len(pairs), len(pairs))
    shot = tmp_path / "shot.png"
    subprocess.run(browser + [f"--screenshot={shot}", "--window-size=900,700", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.shape == (700, 900)
    dark = (pixels < 128).mean()
    assert 0.005 < dark < 0.5, f"{dark:.4f} of the screenshot is dark: blank or broken"
    assert len(np.unique(pixels)) > 10


def test_the_pictures_in_docs_are_what_draw_writes_now():
    """The README shows docs/pictures/resnet50.svg: kept equal to `kspec draw`'s output."""
    pictures = ROOT / "docs" / "pictures"
    assert (pictures / "resnet50.svg").read_text() == to_svg(
        layout(load_spec(SPECS / "resnet50.yaml"))), \
        "run: kspec draw specs/resnet50.yaml --out docs/pictures/resnet50.svg"
    assert (pictures / "googlenet.html").read_text() == to_html(
        load_spec(SPECS / "googlenet.yaml")), \
        "run: kspec draw specs/googlenet.yaml --out docs/pictures/googlenet.html"
