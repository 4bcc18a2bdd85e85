"""Text files: UTF-8 and not blank, or one usage error naming the file and the line."""

from __future__ import annotations

import pytest

from common.errors import UsageError
from input_fns import text_files

pytestmark = pytest.mark.small


def test_bad_bytes_and_blank_files_are_named_with_their_line():
    with pytest.raises(UsageError, match=r"^--text_dir: 'a.txt' line 3: byte 0xff is not UTF-8; allowed: UTF-8 text$"):
        text_files.decode_text(b"one\ntwo\nth\xffree\n", "a.txt", "text_dir")
    with pytest.raises(UsageError, match=r"^--texts: 'b.txt' holds no text"):
        text_files.decode_text(b" \n", "b.txt", "texts")


def test_an_unreadable_file_is_named(tmp_path):
    with pytest.raises(UsageError, match=r"^--train_files: cannot read '.*missing.txt'"):
        text_files.read_text(str(tmp_path / "missing.txt"), "train_files")
    (tmp_path / "ok.txt").write_bytes("caf\u00e9\n".encode())
    assert text_files.read_text(str(tmp_path / "ok.txt"), "train_files") == "caf\u00e9\n"
