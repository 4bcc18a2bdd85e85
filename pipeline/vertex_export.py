"""Copy the run's final serving export to AIP_MODEL_DIR, the directory a Vertex AI job imports, and
its TensorBoard event files to AIP_TENSORBOARD_LOG_DIR, which Vertex AI TensorBoard reads.

Vertex AI expects the SavedModel itself there (``saved_model.pb`` at the root), not kestrel's
``export/serving/<version>/`` layout. ``saved_model.pb`` is written last, so a reader never
finds a SavedModel whose variables are still being copied. The event files keep their folders
(model_dir's own: training; ``eval``: validation; ``eval_<role>``: the report's evaluation), so
Vertex's TensorBoard shows the runs a local ``tensorboard --logdir=<model_dir>`` shows, whatever
the engine: every engine writes the same runs and tags (tests/e2e/test_tensorboard.py).
"""

from __future__ import annotations

import posixpath
import sys
from typing import TextIO

import tensorflow as tf

SAVED_MODEL_FILE = "saved_model.pb"
EVENTS_PREFIX = "events.out.tfevents."


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


def publish_events(model_dir: str, target_dir: str | None, task: str | None, stream: TextIO = sys.stdout) -> int:
    """Copy every TensorBoard event file under ``model_dir`` into ``target_dir``, folders kept;
    returns how many. Nothing without a target, or on a task other than the chief (it writes none)."""
    if not target_dir or task:
        return 0
    events = [relative for relative in _files(model_dir) if posixpath.basename(relative).startswith(EVENTS_PREFIX)]
    for relative in events:
        destination = posixpath.join(target_dir, relative)
        tf.io.gfile.makedirs(posixpath.dirname(destination))
        tf.io.gfile.copy(posixpath.join(model_dir, relative), destination, overwrite=True)
    print(
        f"{len(events)} TensorBoard event files copied to {target_dir} (AIP_TENSORBOARD_LOG_DIR)",
        file=stream,
        flush=True,
    )
    return len(events)


def _files(root: str) -> list[str]:
    """Every file under ``root``, relative to it, with '/' separators (gs:// and local alike)."""
    found = []
    for directory, _, names in tf.io.gfile.walk(root):
        relative_dir = posixpath.relpath(directory.replace("\\", "/"), root.replace("\\", "/"))
        found += [posixpath.normpath(posixpath.join(relative_dir, name)) for name in names]
    return found
