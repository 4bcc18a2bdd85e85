"""Spans: discovery, order, selection and the content fingerprint."""

from __future__ import annotations

import os

import pytest

from common.errors import UsageError
from pipeline.retraining import spans

pytestmark = pytest.mark.small


def _write(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_numbered_spans_order_by_number_not_name(tmp_path):
    for name in ("span-10", "span-2", "span-1", "notes", ".span-99"):
        _write(tmp_path / name / "0" / "a.png", name)
    _write(tmp_path / "span-3.txt")  # a file, not a span folder
    found = spans.discover(str(tmp_path))
    assert [s.name for s in found] == ["span-1", "span-2", "span-10"]
    assert [s.name for s in spans.select(found)] == ["span-10"]
    assert [s.name for s in spans.select(found, window=2)] == ["span-2", "span-10"]
    assert spans.previous(found, found[-1]).name == "span-2"
    assert spans.previous(found, found[0]) is None


def test_dated_spans_and_patterns(tmp_path):
    for name in ("2026-11-20", "20261122", "2026-11-21"):
        _write(tmp_path / "in" / name / "data.tfrecord", name)
    _write(tmp_path / "in" / "2026-02-30" / "data.tfrecord")  # not a date
    found = spans.discover(str(tmp_path / "in" / "{SPAN}" / "*.tfrecord"))
    assert [s.name for s in found] == ["2026-11-20", "2026-11-21", "20261122"]
    assert found[-1].files() == [str(tmp_path / "in" / "20261122" / "data.tfrecord")]

    for number in (1, 2, 11):
        _write(tmp_path / "csv" / f"part-{number}.csv", str(number))
    found = spans.discover(str(tmp_path / "csv" / "part-{SPAN}.csv"))
    assert [s.name for s in found] == ["1", "2", "11"]
    assert found[-1].files() == [str(tmp_path / "csv" / "part-11.csv")]


def test_mixed_or_missing_sources_are_usage_errors(tmp_path):
    _write(tmp_path / "1" / "a")
    _write(tmp_path / "2026-01-01" / "a")
    with pytest.raises(UsageError, match="mixes dated and numbered"):
        spans.discover(str(tmp_path))
    with pytest.raises(UsageError, match="neither a directory"):
        spans.discover(str(tmp_path / "nope"))


def test_fingerprint_follows_content_not_mtime(tmp_path):
    _write(tmp_path / "a" / "1" / "0" / "x.png", "one")
    _write(tmp_path / "b" / "1" / "0" / "x.png", "one")
    (span_a,) = spans.discover(str(tmp_path / "a"))
    (span_b,) = spans.discover(str(tmp_path / "b"))
    first = spans.spans_fingerprint([span_a])
    assert first == spans.spans_fingerprint([span_b])  # a copy elsewhere is the same data
    os.utime(tmp_path / "a" / "1" / "0" / "x.png", (0, 0))
    assert spans.spans_fingerprint([span_a]) == first
    _write(tmp_path / "a" / "1" / "0" / "x.png", "two")
    assert spans.spans_fingerprint([span_a]) != first
    _write(tmp_path / "a" / "1" / "0" / ".x.png.partial", "in flight")
    assert spans.spans_fingerprint([span_a]) == spans.spans_fingerprint([span_a])
    (tmp_path / "empty" / "1").mkdir(parents=True)
    with pytest.raises(UsageError, match="no data files"):
        spans.spans_fingerprint(spans.discover(str(tmp_path / "empty")))
