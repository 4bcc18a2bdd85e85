"""Names the training, export, serving and retraining code share; plain strings, no TensorFlow.

An export lands in ``<model_dir>/EXPORT_DIR/<exporter>/<timestamp>/``: the
latest exporter is ``LATEST_EXPORTER``, the best-checkpoint one ``BEST_EXPORTER``.
Its ``ASSETS_EXTRA/LABELS_FILE`` holds one class name a line, and its
default signature is ``SERVING_KEY`` (``tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY``).
"""

from __future__ import annotations

import posixpath

EXPORT_DIR = "export"
LATEST_EXPORTER = "serving"
BEST_EXPORTER = "best"
SERVING_KEY = "serving_default"
ASSETS_EXTRA = "assets.extra"
LABELS_FILE = "labels.txt"
# --tflite_output_file=<stem>.tflite is the float model; beside it <stem>DYNAMIC_RANGE_SUFFIX.tflite
# (weights quantised to int8) and LABELS_FILE.
TFLITE_EXTENSION = ".tflite"
DYNAMIC_RANGE_SUFFIX = "_dynamic_range"
# The training gate's artifacts: <model_dir>/VALIDATION_DIR (schema, spans, reports).
VALIDATION_DIR = "validation"


def as_str(path: bytes | str | None) -> str | None:
    """A path TensorFlow returned as bytes or str (export_saved_model gives bytes) as str; None stays None."""
    if path is None:
        return None
    return path.decode() if isinstance(path, bytes) else str(path)


def tflite_files(path: str) -> tuple[str, str, str]:
    """The (float model, dynamic-range model, labels file) that --tflite_output_file=``path`` writes."""
    stem = path[: -len(TFLITE_EXTENSION)] if path.endswith(TFLITE_EXTENSION) else path
    return path, stem + DYNAMIC_RANGE_SUFFIX + TFLITE_EXTENSION, posixpath.join(posixpath.dirname(path), LABELS_FILE)
