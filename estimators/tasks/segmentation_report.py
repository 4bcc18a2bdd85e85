"""The evaluation report of a segmentation: mean IoU, pixel accuracy, per-class IoU, and masks as a PNG.

``masks.png`` shows a few test images with their true and predicted masks,
one row each: what a mean IoU of 0.6 looks like is easier to see than to read.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from estimators.reports.page import Figure, PerClass, evaluation_summary, png_bytes, pyplot, write_report_page

MASKS_PNG = "masks.png"
FIGURE = Figure("true and predicted masks", MASKS_PNG, height=600)
SAMPLES = 4


@dataclasses.dataclass(frozen=True)
class SegmentationReport:
    split: str
    examples: int
    mean_iou: float
    pixel_accuracy: float
    class_names: tuple[str, ...]
    iou: tuple[float, ...]  # per class; a class absent from both masks counts as 1.0

    def metrics(self) -> dict[str, float]:
        return {"mean_iou": self.mean_iou, "pixel_accuracy": self.pixel_accuracy}

    @property
    def per_class(self) -> PerClass:
        return PerClass("IoU", self.class_names, self.iou)

    def format(self) -> str:
        first = (
            f"evaluation on '{self.split}': mean IoU {self.mean_iou:.4f}, pixel accuracy {self.pixel_accuracy:.4f} "
            f"over {self.examples} images"
        )
        return "\n".join([first, *self.per_class.lines()])


def build_report(
    probabilities: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], split: str
) -> SegmentationReport:
    predicted = np.argmax(probabilities, axis=-1).reshape(-1)
    true = np.asarray(labels).reshape(-1).astype(np.int64)
    n = len(class_names)
    confusion = np.bincount(true * n + predicted, minlength=n * n).reshape(n, n)
    intersection = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - intersection
    iou = np.where(union > 0, intersection / np.maximum(union, 1), 1.0)
    # As Keras's MeanIoU: the mean over the classes that occur in the truth or the prediction.
    present = union > 0
    return SegmentationReport(
        split=split,
        examples=len(probabilities),
        mean_iou=float(iou[present].mean()) if present.any() else 0.0,
        pixel_accuracy=float(intersection.sum() / max(1, confusion.sum())),
        class_names=tuple(class_names),
        iou=tuple(float(v) for v in iou),
    )


def write_report(
    report: SegmentationReport, directory: str, images: np.ndarray, true: np.ndarray, predicted: np.ndarray
) -> str:
    """report.json and masks.png (``images`` [k, h, w, c] displayable in 0..1, masks [k, h, w]); returns directory."""
    return FIGURE.write_files(directory, report, masks_png(report, images, true, predicted))


def masks_png(report: SegmentationReport, images: np.ndarray, true: np.ndarray, predicted: np.ndarray) -> bytes:
    plt = pyplot()
    rows = len(images)
    fig, axes = plt.subplots(rows, 3, figsize=(7.5, 2.5 * rows), squeeze=False)
    top = len(report.class_names) - 1
    for row in range(rows):
        image = images[row] if images.shape[-1] == 3 else images[row][..., 0]
        panels = ((image, "image"), (true[row], "true mask"), (predicted[row], "predicted mask"))
        for ax, (data, title) in zip(axes[row], panels, strict=True):
            kwargs = {} if title == "image" else {"cmap": "viridis", "vmin": 0, "vmax": top, "interpolation": "nearest"}
            ax.imshow(data, **kwargs)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.suptitle(f"{report.split}: mean IoU {report.mean_iou:.3f}, pixel accuracy {report.pixel_accuracy:.3f}")
    return png_bytes(fig, dpi=90)


def write_html(report: SegmentationReport, directory: str, title: str) -> str:
    """report.html: mean IoU and pixel accuracy, the learning curves and the masks, IoU per class."""
    summary = evaluation_summary(
        report.split,
        f"mean IoU <b>{report.mean_iou:.4f}</b>, pixel accuracy {report.pixel_accuracy:.4f} "
        f"over {report.examples} images",
    )
    return write_report_page(directory, title, summary, FIGURE, table=report.per_class.table())
