"""Predict image files with an exported SavedModel: class names and probabilities as a table, CSV or JSON."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os

import numpy as np
import tensorflow as tf

from common.errors import UsageError
from common.names import SERVING_KEY
from estimators.serving import receivers as serving

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
FORMATS = ("table", "csv", "json")


@dataclasses.dataclass(frozen=True)
class Prediction:
    path: str
    class_name: str
    probability: float
    top: tuple[tuple[str, float], ...]  # (class name, probability), best first


def image_paths(inputs: list[str]) -> list[str]:
    """Files as given, and a folder's image files (sorted); anything else is a usage error."""
    paths: list[str] = []
    for item in inputs:
        if tf.io.gfile.isdir(item):
            found = sorted(
                os.path.join(item, name)
                for name in tf.io.gfile.listdir(item)
                if name.lower().endswith(IMAGE_EXTENSIONS)
            )
            if not found:
                raise UsageError("images", f"no {'/'.join(IMAGE_EXTENSIONS)} files in '{item}'")
            paths += found
        elif tf.io.gfile.exists(item):
            paths.append(item)
        else:
            raise UsageError("images", f"no file or folder '{item}'")
    if not paths:
        raise UsageError("images", "give image files or a folder")
    return paths


def load_signature(export_dir: str):
    if not tf.io.gfile.exists(os.path.join(export_dir, "saved_model.pb")):
        raise UsageError("export_dir", f"no SavedModel in '{export_dir}'")
    signatures = tf.saved_model.load(export_dir).signatures
    signature = signatures.get(SERVING_KEY)
    if signature is None or serving.BYTES_INPUT not in signature.structured_input_signature[1]:
        raise UsageError("export_dir", f"'{export_dir}' has no serving signature on encoded image bytes")
    return signature


def predict_files(export_dir: str, paths: list[str], top_k: int = 3, batch_size: int = 32) -> list[Prediction]:
    signature = load_signature(export_dir)
    names = serving.read_labels(export_dir)
    results: list[Prediction] = []
    for start in range(0, len(paths), batch_size):
        batch = paths[start : start + batch_size]
        encoded = []
        for path in batch:
            with tf.io.gfile.GFile(path, "rb") as f:
                encoded.append(f.read())
        try:
            out = signature(**{serving.BYTES_INPUT: tf.constant(encoded)})
        except tf.errors.InvalidArgumentError as err:
            raise UsageError("images", f"cannot decode one of {batch}: {err.message.splitlines()[0]}") from None
        for path, probs in zip(batch, out["probabilities"].numpy(), strict=True):
            order = np.argsort(-probs)[:top_k]
            top = tuple((names[i], float(probs[i])) for i in order)
            results.append(Prediction(path, top[0][0], top[0][1], top))
    return results


def format_predictions(predictions: list[Prediction], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            [
                {
                    "path": p.path,
                    "class": p.class_name,
                    "probability": round(p.probability, 6),
                    "top": [{"class": c, "probability": round(v, 6)} for c, v in p.top],
                }
                for p in predictions
            ],
            indent=2,
        )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["path", "class", "probability"])
        for p in predictions:
            writer.writerow([p.path, p.class_name, f"{p.probability:.6f}"])
        return buffer.getvalue().rstrip("\n")
    if fmt != "table":
        raise UsageError("format", f"unknown format '{fmt}'; allowed: {', '.join(FORMATS)}")
    width = max(4, *(len(p.path) for p in predictions))
    cls = max(5, *(len(p.class_name) for p in predictions))
    lines = [f"{'path':<{width}}  {'class':<{cls}}  probability  top"]
    for p in predictions:
        top = ", ".join(f"{c} {v:.3f}" for c, v in p.top)
        lines.append(f"{p.path:<{width}}  {p.class_name:<{cls}}  {p.probability:11.4f}  {top}")
    return "\n".join(lines)
