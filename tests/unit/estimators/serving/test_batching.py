"""estimators/serving/batching.Batcher: concurrent requests run as one call, each gets its own rows back."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from estimators.serving.batching import Batcher, BatchingParameters
from estimators.serving.rest_errors import RequestError

pytestmark = pytest.mark.small


class Recorder:
    """A signature stand-in: doubles its rows and records each call's row count; rows < 0 fail the call."""

    def __init__(self):
        self.sizes: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, inputs: dict) -> dict:
        x = inputs["x"]
        with self._lock:
            self.sizes.append(len(x))
        if (x < 0).any():
            raise ValueError("a negative row")
        return {"y": (x * 2).tolist()}


@pytest.fixture
def batchers():
    """Batchers made by a test, closed after it so their threads end."""
    made: list[Batcher] = []

    def make(call, **params) -> Batcher:
        made.append(Batcher(call, BatchingParameters(num_batch_threads=1, **params)))
        return made[-1]

    yield make
    for batcher in made:
        batcher.close()


def _rows(start: int, size: int) -> np.ndarray:
    return np.arange(start, start + size)


def _run_all(batcher: Batcher, sizes: list[int]) -> list:
    """One thread a request, all at once; request i sends rows starting at 100 * i."""
    with ThreadPoolExecutor(len(sizes)) as pool:
        futures = [pool.submit(batcher.run, {"x": _rows(100 * i, n)}, n) for i, n in enumerate(sizes)]
        return [f.result(timeout=30) for f in futures]


def test_concurrent_requests_run_as_one_call_and_each_gets_its_own_rows(batchers):
    call = Recorder()
    # A timeout far longer than the threads take to start: the batch closes because it is full.
    batcher = batchers(call, max_batch_size=8, batch_timeout_micros=5_000_000)
    answers = _run_all(batcher, [1] * 8)
    assert call.sizes == [8]
    assert answers == [{"y": [200 * i]} for i in range(8)]


def test_a_batch_holds_at_most_max_batch_size_rows_and_splits_no_request(batchers):
    call = Recorder()
    batcher = batchers(call, max_batch_size=8, batch_timeout_micros=200_000)
    answers = _run_all(batcher, [3] * 6)
    assert sum(call.sizes) == 18 and all(size in (3, 6) for size in call.sizes)
    assert answers == [{"y": (_rows(100 * i, 3) * 2).tolist()} for i in range(6)]


def test_a_lone_request_runs_once_its_timeout_passes(batchers):
    call = Recorder()
    batcher = batchers(call, max_batch_size=8, batch_timeout_micros=50_000)
    start = time.monotonic()
    assert batcher.run({"x": _rows(5, 1)}, 1) == {"y": [10]}
    assert time.monotonic() - start >= 0.05
    assert call.sizes == [1]


def test_a_failed_batch_is_run_request_by_request_and_only_the_bad_one_fails(batchers):
    call = Recorder()
    batcher = batchers(call, max_batch_size=4, batch_timeout_micros=5_000_000)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(batcher.run, {"x": np.array([-1 if i == 2 else i])}, 1) for i in range(4)]
        with pytest.raises(ValueError, match="a negative row"):
            futures[2].result(timeout=30)
        assert [futures[i].result(timeout=30) for i in (0, 1, 3)] == [{"y": [0]}, {"y": [2]}, {"y": [6]}]
    assert call.sizes[0] == 4 and sorted(call.sizes[1:]) == [1, 1, 1, 1]


def test_a_request_larger_than_max_batch_size_is_refused(batchers):
    batcher = batchers(Recorder(), max_batch_size=2)
    with pytest.raises(RequestError, match="Task size 3 is larger than maximum input batch size 2"):
        batcher.run({"x": _rows(0, 3)}, 3)


def test_after_close_requests_run_alone_and_the_batch_threads_end():
    before = set(threading.enumerate())
    batcher = Batcher(Recorder(), BatchingParameters(max_batch_size=8, batch_timeout_micros=1000, num_batch_threads=2))
    threads = [t for t in threading.enumerate() if t not in before]
    assert len(threads) == 2
    batcher.close()
    assert batcher.run({"x": _rows(1, 2)}, 2) == {"y": [2, 4]}
    for thread in threads:
        thread.join(timeout=5)
    assert not any(t.is_alive() for t in threads)
