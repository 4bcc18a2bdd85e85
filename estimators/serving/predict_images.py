"""Restore image files with an exported image-restoration SavedModel (super_resolution, denoising): a PNG each.

Each output is written as ``<output_dir>/<image stem>_<output>.png`` (``_upscaled``,
``_denoised``): the export's uint8 ``pixels`` at the model's output size. The
export resizes every input to the model's input size first, so a super-resolution
export takes a small image and returns it ``--scale`` times larger. A file that
does not decode gets no output, and is named.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import tensorflow as tf

from estimators.serving import predict
from estimators.tasks.restoration import PIXELS_OUTPUT


@dataclasses.dataclass(frozen=True)
class ImagePrediction:
    path: str
    output_path: str
    size: str  # the written image's width x height


def is_image_output(signature) -> bool:
    return PIXELS_OUTPUT in signature.structured_outputs


def _output_name(signature) -> str:
    """The float image output beside ``pixels``: what the files are named for (upscaled, denoised)."""
    return next(key for key in sorted(signature.structured_outputs) if key != PIXELS_OUTPUT)


def predict_images(
    export_dir: str, paths: list[str], output_dir: str | None, batch_size: int = 32
) -> tuple[list[ImagePrediction], list[predict.Failure]]:
    output_dir = predict.output_folder(output_dir, "an image-restoration model writes a PNG per image")
    signature = predict.load_signature(export_dir)
    suffix = _output_name(signature)

    def predicted(path: str, pixels: np.ndarray) -> ImagePrediction:
        png = tf.io.encode_png(pixels).numpy()
        return ImagePrediction(
            path, predict.write_beside(png, path, output_dir, suffix), f"{pixels.shape[1]}x{pixels.shape[0]}"
        )

    return predict.collect(signature, paths, PIXELS_OUTPUT, batch_size, predicted)


def format_images(predictions: list[ImagePrediction], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([dataclasses.asdict(p) for p in predictions], indent=2)
    rows = [["path", "output", "size"], *([p.path, p.output_path, p.size] for p in predictions)]
    return predict.format_rows(rows, fmt)
