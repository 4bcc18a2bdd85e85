"""Checkpoint health: resume from the newest checkpoint that can actually be read.

A process killed while writing, or a disk that filled up, can leave the newest
checkpoint truncated. Estimator would then fail on restore (or a user would
delete the model_dir and start from zero); instead the unreadable checkpoints
are moved aside and training resumes from the newest good one.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

import tensorflow as tf

from common.errors import KestrelError

QUARANTINE_DIR = "corrupt-checkpoints"


def is_readable(prefix: str) -> bool:
    """True when every tensor of the checkpoint at ``prefix`` can be read back."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    # A truncated data file surfaces as IndexError ("Read less bytes than requested").
    except (tf.errors.OpError, ValueError, OSError, IndexError):
        return False
    return True


def resume_point(model_dir: str, stream: TextIO = sys.stderr) -> str | None:
    """The checkpoint a run in ``model_dir`` will resume from, after setting aside unreadable ones.

    Returns None for a model_dir with no checkpoint. Raises KestrelError when
    checkpoints exist but none can be read: starting over silently would
    throw away the training the user paid for.
    """
    state = tf.train.get_checkpoint_state(model_dir)
    if state is None:
        return None
    paths = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
    if state.model_checkpoint_path not in paths:
        paths.append(state.model_checkpoint_path)
    bad: list[str] = []
    for prefix in reversed(paths):
        if is_readable(prefix):
            break
        bad.append(prefix)
    if not bad:
        return paths[-1]
    good = [p for p in paths if p not in bad]
    moved_to = _quarantine(model_dir, bad)
    names = ", ".join(os.path.basename(p) for p in bad)
    if not good:
        raise KestrelError(
            f"no readable checkpoint in {model_dir}: {names} are truncated or corrupt (moved to {moved_to}); "
            "rerun with --overwrite_model_dir to start from zero"
        )
    tf.compat.v1.train.update_checkpoint_state(model_dir, good[-1], all_model_checkpoint_paths=good)
    print(
        f"warning: checkpoint {names} in {model_dir} is unreadable (truncated or corrupt); "
        f"moved to {moved_to}, resuming from {os.path.basename(good[-1])}",
        file=stream,
        flush=True,
    )
    return good[-1]


def _quarantine(model_dir: str, prefixes: list[str]) -> str:
    target = os.path.join(model_dir, QUARANTINE_DIR)
    tf.io.gfile.makedirs(target)
    for prefix in prefixes:
        for path in tf.io.gfile.glob(prefix + ".*"):
            tf.io.gfile.rename(path, os.path.join(target, os.path.basename(path)), overwrite=True)
    return target
