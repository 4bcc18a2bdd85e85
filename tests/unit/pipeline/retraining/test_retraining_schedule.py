"""--every: intervals and the ticking loop."""

from __future__ import annotations

import io

import pytest

from common.errors import KestrelError, UsageError
from pipeline.retraining import schedule

pytestmark = pytest.mark.small


@pytest.mark.parametrize("text,seconds", [("24h", 86400), ("30m", 1800), ("1h30m", 5400), ("2d", 172800), ("90", 90)])
def test_intervals(text, seconds):
    assert schedule.parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "0h", "5x"])
def test_bad_intervals_are_usage_errors(text):
    with pytest.raises(UsageError, match="--every"):
        schedule.parse_interval(text)


def test_every_keeps_ticks_and_survives_a_failed_run():
    now, slept, results = [0.0], [], iter(["run 1 ok", KestrelError("span broken"), "run 3 ok"])

    def run():
        now[0] += 25.0  # each run takes 25 s
        result = next(results)
        if isinstance(result, Exception):
            raise result
        return result

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    out = io.StringIO()
    schedule.every(60.0, run, out, max_runs=3, clock=lambda: now[0], sleep=sleep)
    assert out.getvalue().splitlines()[::2] == ["run 1 ok", "error: span broken", "run 3 ok"]
    assert slept == [35.0, 35.0]  # ticks at 60 and 120, not 25 + 60
