"""The detection report's COCO figures (pycocotools) on boxes whose mAP is known, and its baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from estimators.tasks.detection_report import Boxes, baseline, build_report, coco_map, write_html

TRUTH = [
    Boxes(np.array([[0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.9, 0.8]], np.float32), np.array([0, 1]), np.ones(2)),
    Boxes(np.array([[0.2, 0.3, 0.6, 0.7]], np.float32), np.array([1]), np.ones(1)),
]


def test_perfect_detections_score_one_and_misplaced_ones_less():
    mean_ap, ap50, per_class = coco_map(TRUTH, TRUTH, 3)
    assert mean_ap == pytest.approx(1.0) and ap50 == pytest.approx(1.0)
    np.testing.assert_allclose(per_class, [1.0, 1.0, -1.0])  # class 2 has no true object
    shifted = [Boxes(t.boxes + 0.05, t.classes, t.scores) for t in TRUTH]
    worse, worse50, _ = coco_map(TRUTH, shifted, 3)
    assert worse < 0.9 and worse50 == pytest.approx(1.0)  # IoU still above 0.5, not above 0.75
    nothing, nothing50, _ = coco_map(TRUTH, [Boxes(np.zeros((0, 4)), np.zeros(0), np.zeros(0))] * 2, 3)
    assert nothing == nothing50 == 0.0


def test_the_baseline_is_each_classs_mean_box_at_the_centre():
    priors = baseline(TRUTH, 4, 3)
    assert len(priors) == 4 and len({id(p) for p in priors}) == 1  # the same fixed boxes for every image
    boxes = priors[0]
    assert boxes.classes.tolist() == [0, 1]
    np.testing.assert_allclose(boxes.boxes[0], [0.35, 0.35, 0.65, 0.65], atol=1e-6)
    np.testing.assert_allclose(boxes.scores, [1 / 3, 2 / 3], atol=1e-6)
    report = build_report(TRUTH, TRUTH, TRUTH, ("a", "b", "c"), "test")
    assert report.map == pytest.approx(1.0) and report.baseline_map < 0.5 and report.objects == 3
    assert "mAP@[.5:.95] 1.0000, mAP@0.5 1.0000 over 2 images, 3 objects" in report.format()


def test_the_page_has_ap_per_class(tmp_path):
    report = build_report(TRUTH, TRUTH, TRUTH, ("a", "b", "c"), "test")
    html = Path(write_html(report, str(tmp_path), "boxes")).read_text()
    assert "<th>class</th><th>AP@[.5:.95]</th>" in html
    assert "<tr><td>b</td><td>1.000</td></tr><tr><td>c</td><td>-1.000</td></tr>" in html  # c: no true object
