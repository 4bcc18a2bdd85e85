"""The one progress line (common/progress.py): when it prints, and what it says."""

from __future__ import annotations

import io
import re

import pytest

from common import progress

pytestmark = pytest.mark.medium

LINE = re.compile(
    r"^(?P<what>.+) (?P<count>\d+)/(?P<total>~?\d+) \((?P<pct>\d+)%\)  (?P<note>.*?)(?P<rate>[\d,.]+ \w+/(sec|min))  time left (?P<left>\d+:\d\d)$"
)


def _lines(stream: io.StringIO) -> list[re.Match]:
    return [LINE.match(line) for line in stream.getvalue().splitlines()]


def test_a_line_at_each_multiple_crossed_and_one_at_the_end():
    out = io.StringIO()
    line = progress.ProgressLine(10, batch_size=4, every=3, stream=out)
    for count in range(0, 11):
        line.update(count)
    found = _lines(out)
    assert all(found) and [m["count"] for m in found] == ["3", "6", "9", "10"]
    assert found[-1]["pct"] == "100" and found[-1]["left"] == "0:00" and "examples/sec" in found[-1]["rate"]
    assert line.examples_per_sec and line.examples_per_sec > 0


def test_an_estimated_total_is_marked_never_reaches_100_and_does_not_print_every_update_past_it():
    out = io.StringIO()
    line = progress.ProgressLine(100, every=50, stream=out, unit="rows", approximate=True)
    for count in (0, 60, 120, 130, 140):
        line.update(count)
    found = _lines(out)
    assert [(m["count"], m["total"], m["pct"]) for m in found] == [("60", "~100", "60"), ("120", "~100", "99")]


def test_min_interval_keeps_a_fast_pass_to_its_last_line():
    out = io.StringIO()
    line = progress.ProgressLine(1000, every=10, stream=out, min_interval=60.0)
    for count in range(0, 1001, 10):
        line.update(count)
    assert [m["count"] for m in _lines(out)] == ["1000"]


def test_runs_say_what_they_measured_and_a_slow_rate_per_minute():
    said: list[str] = []
    counter = progress.run_counter(3, said.append, unit="runs")
    counter.update(1, "vgg16: 512 examples/sec")
    (found,) = _lines(io.StringIO("\n".join(said)))
    assert found["what"] == "run" and found["note"] == "vgg16: 512 examples/sec  "
    assert progress.format_rate(0.025, "runs") == "1.5 runs/min" and progress.format_rate(12.4, "runs") == "12 runs/sec"


def test_counted_passes_every_item_through_and_counts_them():
    out = io.StringIO()
    line = progress.ProgressLine(4, every=2, stream=out, what="predicting test")
    line.update(0)
    assert list(progress.counted("abcd", line)) == ["a", "b", "c", "d"]
    assert [m["count"] for m in _lines(out)] == ["2", "4"]
