"""Each worker's progress line over the record batches a reader decodes, and the batches' clock metric."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator

import apache_beam as beam
import pyarrow as pa

from common.progress import ProgressLine


def batch_clock_metric(role: str) -> str:
    """The Beam distribution metric of the times (epoch ms) at which ``role``'s batches were decoded."""
    return f"{role}_batch_unix_ms"


class Progress(beam.DoFn):
    """This worker's progress line: Beam has no job-wide progress on every runner.

    Each of ``workers`` workers is taken to decode an equal share of the estimated
    rows, so the percentage and the time left are this worker's, and the job's
    when the workers keep pace with each other.
    """

    def __init__(self, role: str, every: int, expected_rows: int, workers: int, exact: bool):
        self._role = role
        self._every = every
        self._share = max(1, math.ceil(expected_rows / max(1, workers)))
        self._exact = exact

    def setup(self) -> None:
        self._rows = 0
        self._counter = beam.metrics.Metrics.counter("kestrel_validation", f"{self._role}_rows")
        # When batches were decoded (wall clock, ms), over all workers: its min and max bound the
        # statistics pass apart from worker start-up (statistics.JobTiming).
        self._clock = beam.metrics.Metrics.distribution("kestrel_validation", batch_clock_metric(self._role))
        self._line = None
        if self._every:
            what = f"  [{self._role} worker {os.getpid()}] rows decoded"
            self._line = ProgressLine(self._share, 1, self._every, what=what, unit="rows", approximate=not self._exact)
            self._line.update(0)

    def process(self, batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        self._rows += batch.num_rows
        self._counter.inc(batch.num_rows)
        self._clock.update(int(time.time() * 1000))
        if self._line:
            self._line.update(self._rows)
        yield batch
