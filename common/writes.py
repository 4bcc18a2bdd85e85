"""Writing a whole file so that a reader sees the old one or the new one, never half.

Through ``tf.io.gfile``, so gs:// works as well as a local path; TensorFlow is imported
only when a file is written (common/ imports none at start-up, where the flag layer reads it).
The digest memo (pipeline/digest_memo.py) writes its own with ``os``: the gate's recall must
not load TensorFlow.
"""

from __future__ import annotations

import os


def write_whole(path: str, data: bytes) -> None:
    """``data`` as the file ``path``: written beside it, then renamed over it.

    A failure (disk full, no permission) leaves what was at ``path`` before, and removes
    the staging file when it can.
    """
    import tensorflow as tf

    staging = f"{path}.{os.getpid()}.tmp"  # a *.tmp name: what a reader of partial files already passes over
    try:
        with tf.io.gfile.GFile(staging, "wb") as f:
            f.write(data)
        tf.io.gfile.rename(staging, path, overwrite=True)
    except BaseException:
        if tf.io.gfile.exists(staging):
            tf.io.gfile.remove(staging)
        raise
