"""common/files.list_files walks as os.walk does, and keeps the stat each entry was judged by."""

from __future__ import annotations

import os

import pytest

from common.files import list_files

pytestmark = pytest.mark.small


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / "a" / "x.png").write_bytes(b"x")
    (tmp_path / "a" / "deep" / "y.png").write_bytes(b"yy")
    (tmp_path / "a" / ".DS_Store").write_bytes(b"")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "z.png").write_bytes(b"zzz")
    os.symlink(tmp_path / "elsewhere", tmp_path / "a" / "linked_folder")
    os.symlink(tmp_path / "elsewhere" / "z.png", tmp_path / "a" / "linked.png")
    return tmp_path / "a"


def test_the_listing_is_os_walks_files_sorted_with_each_ones_stat(tree):
    walked = sorted(os.path.join(d, n) for d, _, names in os.walk(tree) for n in names)
    listing = list_files(str(tree))
    assert sorted([*listing.files, *listing.hidden]) == walked
    # A link to a folder is a folder to os.walk: neither listed nor descended (nothing of "elsewhere" but the linked file).
    assert listing.files == tuple(str(tree / n) for n in ("deep/y.png", "linked.png", "x.png"))
    assert listing.hidden == (str(tree / ".DS_Store"),)
    for path in walked:  # the stat of the file itself, links followed, as os.stat gives it
        assert listing.stats[path] == os.stat(path)


def test_a_trailing_slash_and_a_flat_listing_name_the_same_files(tree):
    assert list_files(str(tree) + os.sep).files == list_files(str(tree)).files
    assert list_files(str(tree), recursive=False).files == (str(tree / "linked.png"), str(tree / "x.png"))


def test_a_missing_folder_lists_nothing(tmp_path):
    assert list_files(str(tmp_path / "missing")).files == ()
