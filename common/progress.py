"""The one progress line every long stage prints: ``<what> N/M (P%)  <rate>  time left T``.

Training steps, bottleneck extraction, the report's prediction pass, the TFDV
statistics job and the benchmarks all print it, so a log reads the same
whichever stage is running. No TensorFlow here: the gate's Beam workers and the
benchmark drivers import it too.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_rate(per_sec: float, unit: str) -> str:
    """``1,234 examples/sec``; below one a second, per minute (``1.5 runs/min``), so a slow rate is not 0."""
    if per_sec >= 1 or per_sec == 0:
        return f"{per_sec:,.0f} {unit}/sec"
    return f"{per_sec * 60:,.1f} {unit}/min"


class ProgressLine:
    """Prints a line each time the count reaches or passes a multiple of ``every``, and at the end.

    ``update(count)`` takes the count done so far (steps, examples, runs). The
    first update is the baseline: graph building and the first batch do not count
    towards the rate, which is the rate since the previous line. Each step is
    ``batch_size`` units (examples) for the rate; ``min_interval`` keeps a fast
    pass (a few hundred predictions) to a line or two; ``examples_per_sec`` keeps the
    steady-state throughput since the baseline for the run summary.
    """

    def __init__(
        self,
        total: int,
        batch_size: int = 1,
        every: int = 100,
        stream: TextIO | None = None,
        what: str = "step",
        unit: str = "examples",
        approximate: bool = False,
        min_interval: float = 0.0,
        say: Callable[[str], None] | None = None,
        rate_since_start: bool = False,
    ):
        self._what = what
        self._unit = unit
        self._total = max(1, total)
        self._batch_size = batch_size
        self._every = max(1, every)
        self._stream = stream or sys.stdout
        self._say = say  # where lines go instead of ``stream`` (a benchmark's indented echo)
        # Runs of unequal length (a benchmark's): the time left from the mean so far, not the last one.
        self._rate_since_start = rate_since_start
        self._approximate = approximate  # the total is an estimate: the line says "~" and caps at 99%
        self._min_interval = min_interval  # seconds between lines at least (the last line always prints)
        self._last: tuple[int, float] | None = None
        self._first: tuple[int, float] | None = None
        self.examples_per_sec: float | None = None
        self.last_step: int | None = None  # the step that just ran: names the step a NaN loss stopped

    def update(self, count: int, note: str = "") -> None:
        """``note`` goes on the line after the count: what the unit just done measured."""
        now = time.perf_counter()
        self.last_step = count
        if self._last is None:
            self._last = self._first = (count, now)
            return
        # The end of a known total prints once; an estimated total may be passed, so it is not an end.
        at_end = not self._approximate and count >= self._total > self._last[0]
        crossed = count // self._every != self._last[0] // self._every
        if not at_end and (not crossed or now - self._last[1] < self._min_interval):
            return
        since = self._first if self._rate_since_start else self._last
        rate = (count - since[0]) / max(now - since[1], 1e-9)
        self._last = (count, now)
        if count > self._first[0]:
            self.examples_per_sec = (count - self._first[0]) * self._batch_size / (now - self._first[1])
        self._print(count, rate, note)

    def _print(self, count: int, rate: float, note: str) -> None:
        left = max(self._total - count, 0) / rate if rate > 0 else 0.0
        percent = 100 * count / self._total
        if self._approximate:
            total, percent = f"~{self._total}", min(percent, 99)
        else:
            total = str(self._total)
        line = (
            f"{self._what} {count}/{total} ({percent:.0f}%)  {note + '  ' if note else ''}"
            f"{format_rate(rate * self._batch_size, self._unit)}  time left {format_duration(left)}"
        )
        if self._say:
            self._say(line)
        else:
            print(line, file=self._stream, flush=True)


def run_counter(
    total: int, say: Callable[[str], None] | None = None, what: str = "run", unit: str = "runs"
) -> ProgressLine:
    """A benchmark's line per finished run: ``run 3/12 (25%)  <its figures>  1.5 runs/min  time left 6:00``."""
    line = ProgressLine(total, 1, 1, what=what, unit=unit, say=say, rate_since_start=True)
    line.update(0)
    return line


def counted(items: Iterable[T], line: ProgressLine) -> Iterator[T]:
    """``items`` unchanged, with ``line`` updated after each one (a prediction pass, a file list)."""
    for count, item in enumerate(items, 1):
        line.update(count)
        yield item
