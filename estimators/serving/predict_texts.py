"""Predict texts with a text classifier's export: one text per line of a UTF-8 file, a class per line out.

The export takes raw strings (its model tokenises them), so the lines go in as read.
An empty line or bytes that are not UTF-8 are one usage error naming the file and line.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import numpy as np
import tensorflow as tf

from common.errors import UsageError
from estimators.serving import predict as prediction
from input_fns.text_files import decode_text
from input_fns.text_source import TEXT_INPUT

BATCH = 256


@dataclasses.dataclass(frozen=True)
class TextPrediction:
    line: int
    class_name: str
    probability: float
    text: str


def read_texts(path: str) -> list[str]:
    """The lines of ``path``, each a text; an empty line, an empty file or bad bytes are a usage error."""
    if not tf.io.gfile.exists(path):
        raise UsageError("texts", f"no file '{path}'")
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    lines = decode_text(data, path, "texts").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise UsageError("texts", f"'{path}' line {number}: an empty text; allowed: one text per line")
    return lines


def load_signature(export_dir: str):
    signature = prediction.export_signature(export_dir)
    if TEXT_INPUT not in signature.structured_input_signature[1]:
        raise UsageError("export_dir", f"'{export_dir}' takes no texts (no '{TEXT_INPUT}' input): not a text model")
    return signature


def predict_texts(export_dir: str, path: str) -> list[TextPrediction]:
    texts = read_texts(path)
    signature = load_signature(export_dir)
    results = []
    for start in range(0, len(texts), BATCH):
        batch = texts[start : start + BATCH]
        out = signature(**{TEXT_INPUT: tf.constant(batch)})
        probabilities = out["probabilities"].numpy()
        names = [n.decode("utf-8") for n in out["class_names"].numpy()]
        for i, text in enumerate(batch):
            results.append(TextPrediction(start + i + 1, names[i], float(np.max(probabilities[i])), text))
    return results


def format_texts(predictions: list[TextPrediction], fmt: str) -> str:
    if fmt == "json":
        rows = [{"line": p.line, "class": p.class_name, "probability": round(p.probability, 6)} for p in predictions]
        return json.dumps(rows, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["line", "class", "probability"])
        writer.writerows([p.line, p.class_name, f"{p.probability:.6f}"] for p in predictions)
        return buffer.getvalue().rstrip("\n")
    width = max([5, *(len(p.class_name) for p in predictions)])
    lines = [f"{'line':>5}  {'class':<{width}}  probability  text"]
    for p in predictions:
        shown = p.text if len(p.text) <= 60 else p.text[:57] + "..."
        lines.append(f"{p.line:>5}  {p.class_name:<{width}}  {p.probability:11.4f}  {shown}")
    return "\n".join(lines)
