"""Copy the run's final serving export to AIP_MODEL_DIR, the directory a Vertex AI job imports.

Vertex AI expects the SavedModel itself there (``saved_model.pb`` at the root), not kestrel's
``export/serving/<version>/`` layout. ``saved_model.pb`` is written last, so a reader never
finds a SavedModel whose variables are still being copied.
"""

from __future__ import annotations

import posixpath
import sys
from typing import TextIO

import tensorflow as tf

SAVED_MODEL_FILE = "saved_model.pb"


def publish(export_path: str, target_dir: str | None, stream: TextIO = sys.stdout) -> str | None:
    """Copy ``export_path`` (a SavedModel directory) into ``target_dir``; returns the target, or None
    when there is nothing to do (no AIP_MODEL_DIR, or a task other than the chief, which exports nothing)."""
    if not target_dir or not export_path:
        return None
    files = _files(export_path)
    # The graph last: until it lands, target_dir holds no loadable (or half-copied) SavedModel.
    files.sort(key=lambda relative: relative == SAVED_MODEL_FILE)
    for relative in files:
        destination = posixpath.join(target_dir, relative)
        tf.io.gfile.makedirs(posixpath.dirname(destination))
        tf.io.gfile.copy(posixpath.join(export_path, relative), destination, overwrite=True)
    print(f"SavedModel copied to {target_dir} (AIP_MODEL_DIR) from {export_path}", file=stream, flush=True)
    return target_dir


def _files(root: str) -> list[str]:
    """Every file under ``root``, relative to it, with '/' separators (gs:// and local alike)."""
    found = []
    for directory, _, names in tf.io.gfile.walk(root):
        relative_dir = posixpath.relpath(directory.replace("\\", "/"), root.replace("\\", "/"))
        found += [posixpath.normpath(posixpath.join(relative_dir, name)) for name in names]
    return found
