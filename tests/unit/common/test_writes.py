"""common/writes.write_whole: the new bytes whole, or the old file untouched and no staging file left."""

from __future__ import annotations

import pytest

from common.writes import write_whole

pytestmark = pytest.mark.medium


def test_the_file_holds_exactly_the_new_bytes(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old contents, longer than the new")
    write_whole(str(path), b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_staging_file(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_whole(str(path), 12345)  # fails inside the write, after the staging file is created
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_failed_rename_leaves_what_was_there(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "inside").write_bytes(b"kept")
    with pytest.raises(Exception):  # noqa: B017  (gfile's error type for a rename over a non-empty folder)
        write_whole(str(target), b"new")
    assert (target / "inside").read_bytes() == b"kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
