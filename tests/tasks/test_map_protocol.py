"""Detection mAP by COCO's protocol, checked against pycocotools on the same predictions."""
import contextlib
import io

import numpy as np
import pytest

from tasks.boxes import coco_map

pycocotools = pytest.importorskip("pycocotools")  # the `test` extra installs it

SIZE = 100.0  # pixels per side: pycocotools works in pixels, kspec in fractions


def random_case(seed, images=12, classes=3):
    rng = np.random.default_rng(seed)
    detections, truths = [], []
    for _ in range(images):
        n = int(rng.integers(0, 6))
        yx = rng.uniform(0, 0.7, (n, 2))
        hw = rng.uniform(0.05, 0.3, (n, 2))
        tb = np.concatenate([yx, yx + hw], 1)
        tc = rng.integers(0, classes, n)
        ignore = rng.random(n) < 0.2          # VOC's difficult (or a crowd)
        crowd = ignore & (rng.random(n) < 0.5)
        truths.append((tb, tc, ignore, crowd))
        # detections: jittered copies (some twice: duplicates), and random boxes
        k = int(rng.integers(0, 8))
        src = rng.integers(0, max(n, 1), k)
        db = np.concatenate([tb[src] + rng.normal(0, 0.03, (k, 4)) if n else
                             rng.uniform(0, 0.5, (k, 4)), rng.uniform(0, 0.5, (2, 4)) + [0, 0, .3, .3]])
        db = np.concatenate([np.minimum(db[:, :2], db[:, 2:]), np.maximum(db[:, :2], db[:, 2:])],
                            1)[:, [0, 1, 2, 3]]
        dc = np.concatenate([tc[src] if n else rng.integers(0, classes, k),
                             rng.integers(0, classes, 2)])
        dc[rng.random(len(dc)) < 0.15] = rng.integers(0, classes)  # some wrong classes
        ds = rng.random(len(db)).round(3)  # ties in score, as real detectors have
        detections.append((db, ds, dc))
    return detections, truths


def pycoco_map(detections, truths, classes, thresholds):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    class WithDifficult(COCOeval):
        """VOC's `difficult`: ignored like a crowd, but matched by plain IoU. pycocotools
        sets `ignore` from `iscrowd` alone, so the flag is put back after it."""

        def _prepare(self):
            super()._prepare()
            for gts in self._gts.values():
                for g in gts:
                    g["ignore"] = int(g["ignore"] or g.get("difficult", 0))

    def xywh(b):
        return [b[1] * SIZE, b[0] * SIZE, (b[3] - b[1]) * SIZE, (b[2] - b[0]) * SIZE]

    gt = {"images": [{"id": i + 1, "width": SIZE, "height": SIZE} for i in range(len(truths))],
          "categories": [{"id": c + 1, "name": str(c)} for c in range(classes)],
          "annotations": []}
    for i, (tb, tc, ignore, crowd) in enumerate(truths):
        for b, c, ig, cr in zip(tb, tc, ignore, crowd):
            box = xywh(b)
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": i + 1,
                                      "category_id": int(c) + 1, "bbox": box,
                                      "area": box[2] * box[3], "iscrowd": int(cr),
                                      "difficult": int(ig and not cr)})
    dets = [{"image_id": i + 1, "category_id": int(c) + 1, "bbox": xywh(b), "score": float(s)}
            for i, (db, ds, dc) in enumerate(detections) for b, s, c in zip(db, ds, dc)]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        ev = WithDifficult(coco, coco.loadRes(dets), "bbox")
        ev.params.iouThrs = np.array(thresholds)
        ev.params.maxDets = [100]
        ev.params.areaRng, ev.params.areaRngLbl = [[0, 1e10]], ["all"]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][:, :, :, 0, 0]  # [T, R, K]
    per_class = [precision[:, :, k] for k in range(classes) if (precision[:, :, k] > -1).all()]
    return float(np.mean([p.mean() for p in per_class])) if per_class else 0.0


@pytest.mark.parametrize("seed", range(6))
def test_map_equals_pycocotools(seed):
    detections, truths = random_case(seed)
    for thresholds in ((0.5,), tuple(np.round(np.linspace(0.5, 0.95, 10), 2))):
        ours = coco_map(detections, truths, 3, thresholds)
        assert ours == pytest.approx(pycoco_map(detections, truths, 3, thresholds), abs=1e-3)
        assert 0.0 < ours < 1.0


def test_perfect_and_empty_detections():
    _, truths = random_case(0)
    perfect = [(tb, np.ones(len(tb)), tc) for tb, tc, _, _ in truths]
    assert coco_map(perfect, truths, 3) == pytest.approx(1.0)
    empty = [(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int)) for _ in truths]
    assert coco_map(empty, truths, 3) == 0.0


def test_a_difficult_object_is_neither_a_miss_nor_a_false_positive():
    box = np.array([[0.1, 0.1, 0.5, 0.5]])
    other = np.array([[0.6, 0.6, 0.9, 0.9]])
    truth = [(np.concatenate([box, other]), np.array([0, 0]), np.array([False, True]),
              np.array([False, False]))]
    found = [(box, np.array([0.9]), np.array([0]))]
    assert coco_map(found, truth, 1, (0.5,)) == pytest.approx(1.0)  # no miss
    found = [(np.concatenate([box, other]), np.array([0.9, 0.95]), np.array([0, 0]))]
    assert coco_map(found, truth, 1, (0.5,)) == pytest.approx(1.0)  # no false positive
