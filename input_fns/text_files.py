"""Text files as every text source reads them: UTF-8 and not blank, or one usage error naming the file and line.

The class folders (``text_source``), a language model's corpus (``text_corpus``), the gate's
readers of both and ``scripts.predict --texts`` all read text through here, so a file is
refused the same way wherever it is read.
"""

from __future__ import annotations

import tensorflow as tf

from common.errors import UsageError


def decode_text(data: bytes, path: str, flag: str) -> str:
    """``data`` (the bytes of ``path``) as text; bytes that are not UTF-8 or a blank file are a usage error on ``flag``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise UsageError(
            flag, f"'{path}' line {line}: byte 0x{data[err.start]:02x} is not UTF-8; allowed: UTF-8 text"
        ) from None
    if not text.strip():
        raise UsageError(flag, f"'{path}' holds no text; allowed: a UTF-8 text file with at least one character")
    return text


def read_text(path: str, flag: str) -> str:
    """The text of ``path`` (local or gs://); unreadable, non-UTF-8 or blank is one usage error on ``flag``."""
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            data = f.read()
    except (OSError, tf.errors.OpError) as err:
        raise UsageError(flag, f"cannot read '{path}' ({str(err).splitlines()[0]})") from None
    return decode_text(data, path, flag)
