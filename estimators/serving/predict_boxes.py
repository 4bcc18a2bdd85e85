"""Detect objects with an exported detection SavedModel: each image written again with its boxes drawn.

Each boxed copy is ``<output_dir>/<image stem>_boxes.png``, at the image's own
size (the export's boxes are normalised, so they scale to any size), with a
labelled rectangle per detection scoring at least ``min_score``. The table
names each file, its boxed copy and its detections (class, score, box as
[ymin, xmin, ymax, xmax] in pixels). A file that does not decode gets no copy,
and is named.
"""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import tensorflow as tf

from estimators.serving import predict
from estimators.serving import receivers as serving

_KEYS = ("boxes", "scores", "class_ids", "num_detections")  # the detection task's serving outputs
_COLOURS = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240))


@dataclasses.dataclass(frozen=True)
class Detection:
    class_name: str
    score: float
    box: tuple[int, int, int, int]  # ymin, xmin, ymax, xmax in the image's pixels


@dataclasses.dataclass(frozen=True)
class BoxPrediction:
    path: str
    boxes_path: str
    detections: tuple[Detection, ...]


def is_detection(signature) -> bool:
    return set(_KEYS) <= set(signature.structured_outputs)


def _decoded(image_path: str) -> np.ndarray:
    with tf.io.gfile.GFile(image_path, "rb") as f:
        return tf.io.decode_image(f.read(), channels=3, expand_animations=False).numpy()


def _write_boxed(image: np.ndarray, detections: tuple[Detection, ...], names, image_path: str, output_dir: str) -> str:
    """The image with a labelled rectangle per detection, as a PNG, written atomically."""
    from PIL import Image, ImageDraw

    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    for d in detections:
        colour = _COLOURS[names.index(d.class_name) % len(_COLOURS)]
        ymin, xmin, ymax, xmax = d.box
        draw.rectangle((xmin, ymin, max(xmin, xmax - 1), max(ymin, ymax - 1)), outline=colour, width=2)
        draw.text((xmin + 2, max(0, ymin - 11)), f"{d.class_name} {d.score:.2f}", fill=colour)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return predict.write_beside(buffer.getvalue(), image_path, output_dir, "boxes")


def _detections(outcome: tuple, names: tuple[str, ...], height: int, width: int, min_score: float):
    boxes, scores, ids, count = outcome
    scale = np.array([height, width, height, width], np.float64)
    return tuple(
        Detection(names[int(c)], float(s), tuple(int(round(v)) for v in b * scale))
        for b, s, c in zip(boxes[:count], scores[:count], ids[:count], strict=True)
        if s >= min_score
    )


def predict_boxes(
    export_dir: str, paths: list[str], output_dir: str | None, min_score: float, batch_size: int = 32
) -> tuple[list[BoxPrediction], list[predict.Failure]]:
    output_dir = predict.output_folder(output_dir, "a detection model writes each image with its boxes")
    signature = predict.load_signature(export_dir)
    names = serving.read_labels(export_dir)

    def predicted(path: str, outcome: tuple) -> BoxPrediction:
        image = _decoded(path)
        found = _detections(outcome, names, image.shape[0], image.shape[1], min_score)
        return BoxPrediction(path, _write_boxed(image, found, names, path, output_dir), found)

    return predict.collect(signature, paths, _KEYS, batch_size, predicted)


def format_boxes(predictions: list[BoxPrediction], fmt: str) -> str:
    """One row per detection (a file without any has one row with none), as a table, CSV or JSON."""
    if fmt == "json":
        return json.dumps(
            [
                {"path": p.path, "boxes": p.boxes_path, "detections": [dataclasses.asdict(d) for d in p.detections]}
                for p in predictions
            ],
            indent=2,
        )
    rows = [["path", "boxes", "class", "score", "ymin", "xmin", "ymax", "xmax"]]
    for p in predictions:
        found = p.detections or (None,)
        for d in found:
            detail = [d.class_name, f"{d.score:.3f}", *(str(v) for v in d.box)] if d else ["none", "", "", "", "", ""]
            rows.append([p.path, p.boxes_path, *detail])
    return predict.format_rows(rows, fmt)
