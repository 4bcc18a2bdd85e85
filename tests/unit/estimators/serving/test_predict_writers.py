"""What scripts.predict writes for the box, mask and image exports: a PNG beside each image, rows as CSV or a table."""

from __future__ import annotations

import os

import pytest

from estimators.serving import predict

pytestmark = pytest.mark.small

ROWS = [["path", "mask", "circle"], ["a/long_name.png", "out/long_name_mask.png", "0.250"], ["b.png", "", "1.000"]]


def test_the_png_is_named_for_the_image_stem_and_no_temporary_file_stays(tmp_path):
    path = predict.write_beside(b"\x89PNG data", "/in/photo.v2.jpeg", str(tmp_path), "mask")
    assert path == os.path.join(str(tmp_path), "photo.v2_mask.png")
    assert (tmp_path / "photo.v2_mask.png").read_bytes() == b"\x89PNG data"
    assert sorted(os.listdir(tmp_path)) == ["photo.v2_mask.png"], "the .tmp was renamed, not left beside it"


def test_a_second_write_replaces_the_first(tmp_path):
    predict.write_beside(b"old", "x.png", str(tmp_path), "boxes")
    predict.write_beside(b"new", "x.png", str(tmp_path), "boxes")
    assert (tmp_path / "x_boxes.png").read_bytes() == b"new"


def test_csv_rows_are_comma_separated_without_a_trailing_newline():
    text = predict.format_rows(ROWS, "csv")
    assert text.splitlines() == ["path,mask,circle", "a/long_name.png,out/long_name_mask.png,0.250", "b.png,,1.000"]
    assert not text.endswith("\n")


def test_table_columns_are_as_wide_as_their_widest_cell_two_spaces_apart():
    lines = predict.format_rows(ROWS, "table").splitlines()
    assert lines[0] == "path             mask                    circle"
    assert lines[1] == "a/long_name.png  out/long_name_mask.png  0.250"
    assert lines[2] == "b.png                                    1.000"
    assert all(line == line.rstrip() for line in lines), "no trailing spaces"
