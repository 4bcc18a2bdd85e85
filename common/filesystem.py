"""Path checks done before a run starts, through tf.io.gfile so gs:// works too."""

from __future__ import annotations

import os
import uuid

import tensorflow as tf

from common.errors import UsageError


def ensure_writable_dir(path: str, flag: str) -> None:
    """Create ``path`` if needed and prove a file can be written there."""
    probe = os.path.join(path, f".kestrel-write-test-{uuid.uuid4().hex}")
    try:
        tf.io.gfile.makedirs(path)
        with tf.io.gfile.GFile(probe, "w") as f:
            f.write("ok")
        tf.io.gfile.remove(probe)
    except (tf.errors.OpError, OSError) as err:
        reason = getattr(err, "message", None) or err.strerror or str(err)
        raise UsageError(flag, f"'{path}' is not a writable directory ({reason.strip()})") from None


def remove_dir(path: str) -> None:
    if tf.io.gfile.exists(path):
        tf.io.gfile.rmtree(path)
