"""Path checks done before a run starts, through tf.io.gfile so gs:// works too.

Here, not in common/: tf.io.gfile is TensorFlow, and common/ imports none (the flag layer
reads common/ at start-up, before TensorFlow is needed).
"""

from __future__ import annotations

import os
import stat
import uuid

import tensorflow as tf

from common.errors import UsageError

# Written into every model_dir kestrel creates: --overwrite_model_dir replaces only a directory holding it.
MODEL_DIR_MARKER = ".kestrel-model-dir"


def ensure_writable_dir(path: str, flag: str) -> None:
    """Create ``path`` if needed and prove a file can be written there."""
    if not path:
        raise UsageError(flag, "empty; allowed: a local directory or a gs:// path")
    probe = os.path.join(path, f".kestrel-write-test-{uuid.uuid4().hex}")
    try:
        tf.io.gfile.makedirs(path)
        with tf.io.gfile.GFile(probe, "w") as f:
            f.write("ok")
        tf.io.gfile.remove(probe)
    except (tf.errors.OpError, OSError) as err:
        reason = getattr(err, "message", None) or err.strerror or str(err)
        # gfile's remote errors span lines (a libcurl message, then "when reading ..."): keep them on one.
        raise UsageError(flag, f"'{path}' is not a writable directory ({' '.join(reason.split())})") from None


def _entries(path: str) -> list[str] | None:
    """The names in ``path``; None when nothing is there."""
    if not tf.io.gfile.exists(path):
        return None
    if not tf.io.gfile.isdir(path):
        raise UsageError(
            "model_dir", f"'{path}' is a file; --overwrite_model_dir replaces only a model_dir kestrel wrote"
        )
    return tf.io.gfile.listdir(path)


def check_overwritable(path: str) -> None:
    """Refuse, before any work, to overwrite what kestrel did not write: a file, or a folder without its marker.

    Kestrel's is only a folder holding the marker as a regular file (not a directory, not a symlink): a
    ``checkpoint`` or a ``labels.txt`` alone, or both together, can be a user's own files.
    """
    entries = _entries(path)
    if entries and not is_marked(path):
        raise UsageError(
            "model_dir",
            f"'{path}' holds files kestrel did not write (no {MODEL_DIR_MARKER} marker file); "
            "--overwrite_model_dir replaces only a model_dir kestrel wrote: remove it yourself or choose another",
        )


def is_marked(path: str) -> bool:
    """Whether ``path`` holds kestrel's marker as a regular file."""
    marker = os.path.join(path, MODEL_DIR_MARKER)
    if "://" in path:  # object stores have no symlinks: a marker object is a file
        return tf.io.gfile.exists(marker) and not tf.io.gfile.isdir(marker)
    try:
        return stat.S_ISREG(os.lstat(marker).st_mode)
    except OSError:
        return False


def claim_model_dir(path: str, ours: bool = False) -> None:
    """Make ``path`` writable, and mark it as kestrel's when kestrel creates it or has just cleared it (``ours``)."""
    ensure_writable_dir(path, "model_dir")
    if ours or not tf.io.gfile.listdir(path):
        with tf.io.gfile.GFile(os.path.join(path, MODEL_DIR_MARKER), "w") as f:
            f.write("written by kestrel: --overwrite_model_dir may replace this directory\n")


def clear_model_dir(path: str, keep: str | None = None) -> None:
    """Remove everything a previous run left in ``path`` (checked by check_overwritable) except ``keep`` and the marker."""
    check_overwritable(path)
    for name in tf.io.gfile.listdir(path) if tf.io.gfile.isdir(path) else []:
        name = name.rstrip("/")
        if name in (keep, MODEL_DIR_MARKER):
            continue
        remove(os.path.join(path, name))


def remove(path: str) -> None:
    """Remove a file or a directory tree, if it is there."""
    if tf.io.gfile.isdir(path):
        tf.io.gfile.rmtree(path)
    elif tf.io.gfile.exists(path):
        tf.io.gfile.remove(path)


def move(src: str, dst: str) -> None:
    """Rename ``src`` (if it is there) to ``dst``."""
    if tf.io.gfile.exists(src):
        tf.io.gfile.rename(src, dst, overwrite=True)
