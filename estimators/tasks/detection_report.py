"""The evaluation report of a detector: COCO mAP@[.5:.95] and mAP@0.5 (pycocotools), a baseline, boxes as a PNG.

The figures are COCO's own evaluation (pycocotools' COCOeval), not a
re-implementation. The baseline is a fixed-prior detector: for every image and
every class, the class's mean training box at the image's centre, scored by
the class's share of the training objects. A model that does not beat it has
not learnt where the objects are. ``detections.png`` draws a few test images
with their true boxes (dashed) and the model's (solid, with class and score).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io

import numpy as np

from estimators.reports.page import Figure, PerClass, evaluation_summary, png_bytes, pyplot, write_report_page

DETECTIONS_PNG = "detections.png"
FIGURE = Figure("true (dashed) and predicted boxes", DETECTIONS_PNG, height=600)
SAMPLES = 6
DRAW_SCORE = 0.3  # the PNG draws predicted boxes scoring at least this
_PIXELS = 100.0  # COCO wants pixel boxes; normalised boxes are scaled by this (areas do not enter mAP over "all")


@dataclasses.dataclass(frozen=True)
class Boxes:
    """One image's boxes [n, 4] (normalised [ymin, xmin, ymax, xmax]), class ids [n] and scores [n]."""

    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray


@dataclasses.dataclass(frozen=True)
class DetectionReport:
    split: str
    examples: int
    objects: int
    map: float  # COCO AP averaged over IoU 0.5:0.95 and the classes
    map50: float  # AP at IoU 0.5
    baseline_map: float
    baseline_map50: float
    class_names: tuple[str, ...]
    ap: tuple[float, ...]  # per class, AP@[.5:.95]; -1 where the class has no true object

    def metrics(self) -> dict[str, float]:
        return {"map": self.map, "map50": self.map50}

    @property
    def per_class(self) -> PerClass:
        return PerClass("AP@[.5:.95]", self.class_names, self.ap)

    def format(self) -> str:
        lines = [
            f"evaluation on '{self.split}': mAP@[.5:.95] {self.map:.4f}, mAP@0.5 {self.map50:.4f} "
            f"over {self.examples} images, {self.objects} objects",
            f"baseline (each class's mean box at the centre): mAP@[.5:.95] {self.baseline_map:.4f}, "
            f"mAP@0.5 {self.baseline_map50:.4f}",
        ]
        return "\n".join(lines + self.per_class.lines())


def coco_map(truth: list[Boxes], detections: list[Boxes], num_classes: int) -> tuple[float, float, np.ndarray]:
    """pycocotools' mAP@[.5:.95], mAP@0.5 and AP@[.5:.95] per class (-1: no true object of the class)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images = [{"id": i, "height": _PIXELS, "width": _PIXELS} for i in range(len(truth))]
    annotations = []
    for i, t in enumerate(truth):
        for box, c in zip(t.boxes, t.classes, strict=True):
            x, y, w, h = _xywh(box)
            annotations.append(
                {"id": len(annotations) + 1, "image_id": i, "category_id": int(c), "bbox": [x, y, w, h]}
                | {"area": w * h, "iscrowd": 0}
            )
    results = [
        {"image_id": i, "category_id": int(c), "bbox": _xywh(b), "score": float(s)}
        for i, d in enumerate(detections)
        for b, c, s in zip(d.boxes, d.classes, d.scores, strict=True)
    ]
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress and tables
        gt = COCO()
        gt.dataset = {
            "images": images,
            "annotations": annotations,
            "categories": [{"id": c} for c in range(num_classes)],
        }
        gt.createIndex()
        dt = gt.loadRes(results) if results else COCO()
        evaluator = COCOeval(gt, dt, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    precision = evaluator.eval["precision"][:, :, :, 0, -1]  # [iou, recall, class] at all areas, 100 dets
    per_class = np.array([float(np.mean(p[p > -1])) if (p > -1).any() else -1.0 for p in np.moveaxis(precision, 2, 0)])
    return max(0.0, float(evaluator.stats[0])), max(0.0, float(evaluator.stats[1])), per_class


def _xywh(box: np.ndarray) -> list[float]:
    ymin, xmin, ymax, xmax = (float(v) * _PIXELS for v in box)
    return [xmin, ymin, xmax - xmin, ymax - ymin]


def baseline(train: list[Boxes], images: int, num_classes: int) -> list[Boxes]:
    """Per image, each class's mean training box (height, width) centred, scored by the class's share."""
    boxes = np.concatenate([t.boxes for t in train]) if train else np.zeros((0, 4), np.float32)
    classes = np.concatenate([t.classes for t in train]) if train else np.zeros(0, np.int64)
    sizes = boxes[:, 2:] - boxes[:, :2]
    prior, ids, scores = [], [], []
    for c in range(num_classes):
        mine = sizes[classes == c]
        if not len(mine):
            continue
        h, w = mine.mean(axis=0)
        prior.append([0.5 - h / 2, 0.5 - w / 2, 0.5 + h / 2, 0.5 + w / 2])
        ids.append(c)
        scores.append(len(mine) / len(sizes))
    one = Boxes(np.asarray(prior, np.float32).reshape(-1, 4), np.asarray(ids), np.asarray(scores, np.float32))
    return [one] * images


def build_report(
    detections: list[Boxes], truth: list[Boxes], train: list[Boxes], class_names: tuple[str, ...], split: str
) -> DetectionReport:
    n = len(class_names)
    if len(detections) != len(truth):
        raise RuntimeError(f"{len(detections)} predictions for {len(truth)} examples of '{split}'")
    mean_ap, ap50, per_class = coco_map(truth, detections, n)
    base_ap, base_ap50, _ = coco_map(truth, baseline(train, len(truth), n), n)
    return DetectionReport(
        split=split,
        examples=len(truth),
        objects=int(sum(len(t.classes) for t in truth)),
        map=mean_ap,
        map50=ap50,
        baseline_map=base_ap,
        baseline_map50=base_ap50,
        class_names=tuple(class_names),
        ap=tuple(float(v) for v in per_class),
    )


def write_report(
    report: DetectionReport, directory: str, images: np.ndarray, truth: list[Boxes], detections: list[Boxes]
) -> str:
    """report.json and detections.png (``images`` [k, h, w, c] displayable in 0..1); returns directory."""
    return FIGURE.write_files(directory, report, detections_png(report, images, truth, detections))


def draw_boxes(ax, boxes: Boxes, class_names: tuple[str, ...], height: int, width: int, true: bool = False) -> None:
    """``boxes`` on a matplotlib axis showing an image of ``height`` x ``width``: dashed if true, else labelled."""
    from matplotlib.patches import Rectangle

    colours = ("tab:red", "tab:blue", "tab:orange", "tab:purple", "tab:green", "tab:cyan")
    for box, c, s in zip(boxes.boxes, boxes.classes, boxes.scores, strict=True):
        if not true and s < DRAW_SCORE:
            continue
        y0, x0, y1, x1 = box[0] * height, box[1] * width, box[2] * height, box[3] * width
        colour = "white" if true else colours[int(c) % len(colours)]
        style = "--" if true else "-"
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec=colour, ls=style, lw=1.2))
        if not true:
            ax.text(x0, y0 - 1, f"{class_names[int(c)]} {s:.2f}", color=colour, fontsize=6, va="bottom")


def detections_png(report: DetectionReport, images: np.ndarray, truth: list[Boxes], detections: list[Boxes]) -> bytes:
    plt = pyplot()
    cols = min(3, len(images))
    rows = -(-len(images) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.reshape(-1):
        ax.axis("off")
    for i, image in enumerate(images):
        ax = axes.reshape(-1)[i]
        ax.imshow(image if image.shape[-1] == 3 else image[..., 0], cmap=None if image.shape[-1] == 3 else "gray")
        draw_boxes(ax, truth[i], report.class_names, *image.shape[:2], true=True)
        draw_boxes(ax, detections[i], report.class_names, *image.shape[:2])
    fig.suptitle(
        f"{report.split}: mAP@[.5:.95] {report.map:.3f}, mAP@0.5 {report.map50:.3f} "
        f"(true boxes dashed, predicted >= {DRAW_SCORE})",
        fontsize=9,
    )
    return png_bytes(fig, dpi=110)


def write_html(report: DetectionReport, directory: str, title: str) -> str:
    """report.html: mAP beside the baseline's, the learning curves and the boxed images, AP per class."""
    summary = evaluation_summary(
        report.split,
        f"mAP@[.5:.95] <b>{report.map:.4f}</b>, mAP@0.5 {report.map50:.4f} over {report.examples} images, "
        f"{report.objects} objects "
        f"(baseline, each class's mean box at the centre: {report.baseline_map:.4f}, {report.baseline_map50:.4f})",
    )
    return write_report_page(directory, title, summary, FIGURE, table=report.per_class.table())
