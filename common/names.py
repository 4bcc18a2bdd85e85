"""Names kestrel writes and reads in more than one place: defined once here (no TensorFlow import)."""

from __future__ import annotations

EXPORT_DIR = "export"  # <model_dir>/export/<exporter>/<version>
LATEST_EXPORTER = "serving"  # the newest model
BEST_EXPORTER = "best"  # the best on the validation role
SERVING_KEY = "serving_default"  # tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
LABELS_FILE = "labels.txt"  # assets.extra/labels.txt: one class name per line


def as_str(path: bytes | str | None) -> str | None:
    """A path as text (Estimator export APIs return bytes)."""
    if path is None:
        return None
    return path.decode() if isinstance(path, bytes) else str(path)
