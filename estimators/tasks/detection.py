"""Detection: a CenterNet-style grid (a heatmap per class and a box per cell), its loss, decoding with NMS.

The source (input_fns/detection.py) encodes each image's boxes as a target per
grid cell; the model predicts that grid. The loss is CenterNet's: a focal loss
on the heatmaps (positives where the target is 1) and an L1 loss on the
centre offset and the box size at the positive cells. A prediction decodes the
grid in the graph: the heatmap's local maxima, their boxes, then non-maximum
suppression per class, to at most MAX_DETECTIONS boxes per image. The report
(detection_report.py) is COCO's mAP through pycocotools.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from common import tasks
from common.params import TRAIN
from estimators.tasks import detection_report
from estimators.tasks.base import Evaluation, ReportData, TaskPlugin
from input_fns.detection import BOX_CHANNELS

if TYPE_CHECKING:
    from estimators.models.spec import ModelSpec

MAX_DETECTIONS = 20  # boxes per image after NMS (the export's fixed size; COCO's own cap is 100)
CANDIDATES = 100  # heatmap peaks decoded before NMS
IOU_THRESHOLD = 0.5
SCORE_THRESHOLD = 0.01  # low: mAP integrates over every score; a client filters further
SIZE_WEIGHT = 0.1  # CenterNet's weight of the size loss (sizes in cells), beside 1 for the offset
_PRIOR = 0.1  # initial heatmap probability (CenterNet's bias init -2.19)
BOXES, SCORES, CLASS_IDS, CLASS_NAMES, NUM = "boxes", "scores", "class_ids", "class_names", "num_detections"


class CenterNetLoss(tf.keras.losses.Loss):
    """Focal loss on the heatmaps + L1 on offset and size at object centres, per object (a plain Keras loss)."""

    def __init__(self, num_classes: int, name: str = "centernet_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        c = self.num_classes
        y_true, y_pred = tf.cast(y_true, tf.float32), tf.cast(y_pred, tf.float32)
        heat, p = y_true[..., :c], tf.clip_by_value(y_pred[..., :c], 1e-4, 1.0 - 1e-4)
        positive = tf.cast(tf.equal(heat, 1.0), tf.float32)
        focal = positive * (1.0 - p) ** 2 * tf.math.log(p)
        focal += (1.0 - positive) * (1.0 - heat) ** 4 * p**2 * tf.math.log(1.0 - p)
        centres = tf.reduce_max(positive, axis=-1)  # [batch, rows, cols]
        error = tf.abs(y_true[..., c:] - y_pred[..., c:])
        box = tf.reduce_sum(error[..., :2], -1) + SIZE_WEIGHT * tf.reduce_sum(error[..., 2:], -1)
        count = tf.maximum(tf.reduce_sum(centres, axis=[1, 2]), 1.0)
        per_image = -tf.reduce_sum(focal, axis=[1, 2, 3]) + tf.reduce_sum(centres * box, axis=[1, 2])
        return per_image / count

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes}


def decode(grid: tf.Tensor, num_classes: int) -> dict[str, tf.Tensor]:
    """grid [batch, rows, cols, classes + 4] -> boxes [batch, MAX, 4] (normalised [ymin, xmin, ymax, xmax]),
    scores and class ids [batch, MAX] and the number of detections per image; padded with zeros."""
    grid = tf.cast(grid, tf.float32)
    shape = tf.shape(grid)
    batch, rows, cols = shape[0], shape[1], shape[2]
    heat = grid[..., :num_classes]
    peaks = heat * tf.cast(tf.equal(heat, tf.nn.max_pool2d(heat, 3, 1, "SAME")), tf.float32)
    k = tf.minimum(CANDIDATES, rows * cols * num_classes)
    scores, flat = tf.math.top_k(tf.reshape(peaks, [batch, -1]), k=k)
    cell, classes = flat // num_classes, flat % num_classes
    geometry = tf.gather(tf.reshape(grid[..., num_classes:], [batch, -1, BOX_CHANNELS]), cell, batch_dims=1)
    y = tf.cast(cell // cols, tf.float32) + geometry[..., 0]
    x = tf.cast(cell % cols, tf.float32) + geometry[..., 1]
    half_h, half_w = tf.maximum(geometry[..., 2], 0.0) / 2, tf.maximum(geometry[..., 3], 0.0) / 2
    size = tf.cast(tf.stack([rows, cols, rows, cols]), tf.float32)
    boxes = tf.clip_by_value(tf.stack([y - half_h, x - half_w, y + half_h, x + half_w], -1) / size, 0.0, 1.0)
    per_class = scores[..., None] * tf.one_hot(classes, num_classes)  # [batch, k, classes]
    nms = tf.image.combined_non_max_suppression(
        boxes[:, :, None, :],
        per_class,
        max_output_size_per_class=MAX_DETECTIONS,
        max_total_size=MAX_DETECTIONS,
        iou_threshold=IOU_THRESHOLD,
        score_threshold=SCORE_THRESHOLD,
        clip_boxes=False,
    )
    return {
        BOXES: nms.nmsed_boxes,
        SCORES: nms.nmsed_scores,
        CLASS_IDS: tf.cast(nms.nmsed_classes, tf.int32),
        NUM: nms.valid_detections,
    }


class Detection(TaskPlugin):
    name = tasks.DETECTION

    def head(self, x: tf.Tensor, spec: ModelSpec, l2: float | None = None) -> tf.Tensor:
        """Per cell: a sigmoid heatmap per class and 4 linear box channels, in float32, as one output."""
        layers = tf.keras.layers
        prior = float(-np.log((1 - _PRIOR) / _PRIOR))
        features = layers.Conv2D(64, 3, padding="same", activation="relu", name="head_conv")(x)
        heat = layers.Conv2D(
            spec.num_classes,
            1,
            activation="sigmoid",
            bias_initializer=tf.keras.initializers.Constant(prior),
            dtype="float32",
            name="head_heatmap",
        )(features)
        box = layers.Conv2D(BOX_CHANNELS, 1, dtype="float32", name="head_box")(features)
        return layers.Concatenate(axis=-1, dtype="float32", name=self.task.output)([heat, box])

    def loss(self, spec: ModelSpec) -> str | tf.keras.losses.Loss:
        return CenterNetLoss(spec.num_classes)

    def metrics(self, spec: ModelSpec) -> list[tf.keras.metrics.Metric]:
        return []  # the loss chooses; mAP needs decoding and matching, which the report does

    def outputs(self, output: tf.Tensor, class_names: tuple[str, ...]) -> dict[str, tf.Tensor]:
        """The decoded detections (boxes, scores, class ids and names, how many) and the raw grid."""
        grid = tf.cast(output, tf.float32)
        detections = decode(grid, len(class_names))
        detections[CLASS_NAMES] = tf.gather(tf.constant(class_names), detections[CLASS_IDS])
        detections[self.task.output] = grid
        return detections

    def evaluate(self, data: ReportData) -> Evaluation:
        num_classes = len(data.class_names)
        truth = _boxes_of(data.read(data.role), num_classes)
        train = _boxes_of(data.read(TRAIN), num_classes)  # the baseline's mean boxes
        detections = _decoded(data.predictions, num_classes)
        report = detection_report.build_report(detections, truth, train, data.class_names, data.split)
        images, _ = data.shown_images(detection_report.SAMPLES)
        k = len(images)

        def write(out: str) -> str:
            return detection_report.write_report(report, out, images, truth[:k], detections[:k])

        return Evaluation(report, write, detection_report, report.metrics())


def _decoded(grids: np.ndarray, num_classes: int, batch: int = 64) -> list[detection_report.Boxes]:
    """Every predicted grid decoded (as the export does): per image its boxes, class ids and scores."""
    out = []
    for start in range(0, len(grids), batch):
        d = {k: v.numpy() for k, v in decode(tf.constant(grids[start : start + batch]), num_classes).items()}
        for i, n in enumerate(d[NUM]):
            out.append(detection_report.Boxes(d[BOXES][i, :n], d[CLASS_IDS][i, :n], d[SCORES][i, :n]))
    return out


def _boxes_of(input_fn, num_classes: int) -> list[detection_report.Boxes]:
    """The true boxes of each example, read back from its encoded grid (centre cells, offsets and sizes)."""
    out = []
    for _, grids in input_fn():
        grids = grids.numpy()
        rows, cols = grids.shape[1:3]
        for grid in grids:
            ys, xs, classes = np.nonzero(grid[..., :num_classes] == 1.0)
            geometry = grid[ys, xs, num_classes:]
            cy, cx = ys + geometry[:, 0], xs + geometry[:, 1]
            h, w = geometry[:, 2] / 2, geometry[:, 3] / 2
            boxes = np.stack([(cy - h) / rows, (cx - w) / cols, (cy + h) / rows, (cx + w) / cols], -1)
            out.append(detection_report.Boxes(boxes.astype(np.float32), classes, np.ones(len(classes), np.float32)))
    return out


PLUGIN = Detection()
