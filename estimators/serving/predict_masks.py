"""Segment image files with an exported segmentation SavedModel: a class-mask PNG per image.

Each mask is written as ``<output_dir>/<image stem>_mask.png``: one uint8 class
id per pixel (0 the first mask class), at the image's own size (nearest
neighbour from the model's). The table names each file and the share of its
pixels in each class. A file that does not decode gets no mask, and is named.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import tensorflow as tf

from estimators.serving import predict
from estimators.serving import receivers as serving
from estimators.tasks.segmentation import MASK_OUTPUT


@dataclasses.dataclass(frozen=True)
class MaskPrediction:
    path: str
    mask_path: str
    shares: tuple[tuple[str, float], ...]  # (class, share of the pixels), in class order


def is_segmentation(signature) -> bool:
    return MASK_OUTPUT in signature.structured_outputs


def _write_mask(mask: np.ndarray, image_path: str, output_dir: str) -> str:
    """The mask resized to the image's size, as a PNG of class ids, written atomically."""
    height, width = _size(image_path)
    resized = tf.image.resize(mask[..., None], (height, width), method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)
    return predict.write_beside(tf.io.encode_png(tf.cast(resized, tf.uint8)).numpy(), image_path, output_dir, "mask")


def _size(image_path: str) -> tuple[int, int]:
    with tf.io.gfile.GFile(image_path, "rb") as f:
        shape = tf.io.decode_image(f.read(), channels=3, expand_animations=False).shape
    return int(shape[0]), int(shape[1])


def predict_masks(
    export_dir: str, paths: list[str], output_dir: str | None, batch_size: int = 32
) -> tuple[list[MaskPrediction], list[predict.Failure]]:
    output_dir = predict.output_folder(output_dir, "a segmentation model writes a mask PNG per image")
    signature = predict.load_signature(export_dir)
    names = serving.read_labels(export_dir)

    def predicted(path: str, mask: np.ndarray) -> MaskPrediction:
        counts = np.bincount(mask.reshape(-1), minlength=len(names)) / mask.size
        shares = tuple((name, float(share)) for name, share in zip(names, counts, strict=False))
        return MaskPrediction(path, _write_mask(mask, path, output_dir), shares)

    return predict.collect(signature, paths, MASK_OUTPUT, batch_size, predicted)


def format_masks(predictions: list[MaskPrediction], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            [{"path": p.path, "mask": p.mask_path, "shares": dict(p.shares)} for p in predictions], indent=2
        )
    names = [name for name, _ in predictions[0].shares] if predictions else []
    rows = [["path", "mask", *names], *([p.path, p.mask_path, *(f"{v:.3f}" for _, v in p.shares)] for p in predictions)]
    return predict.format_rows(rows, fmt)
