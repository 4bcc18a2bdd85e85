"""benchmarks.reporting: a printed table laid out from its columns (title, format spec, value)."""

import pytest

from benchmarks import reporting

pytestmark = pytest.mark.small


def test_a_column_is_as_wide_and_aligned_as_its_format_spec_says_for_the_title_and_each_value():
    columns = (("name", "<6", lambda r: r[0]), ("ex/sec", ">10,.1f", lambda r: r[1]), ("ok", ">4", lambda r: r[2]))
    lines = reporting.table(columns, [("a", 1234.56, "yes"), ("bb", 7.0, "-")])
    assert lines == [
        "name       ex/sec   ok",
        "-" * 22,
        "a         1,234.6  yes",
        "bb            7.0    -",
    ]
