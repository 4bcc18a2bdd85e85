"""Server-side batching, as TF Serving's ``--enable_batching``: concurrent requests to one signature run as one call.

A request's rows join a queue; a batch thread takes the first waiting request and adds the others
that arrive within ``batch_timeout_micros``, up to ``max_batch_size`` rows, runs the signature once
on the concatenated inputs and hands each request its own rows of the outputs. If the batched call
fails (one undecodable image fails the whole call), each request of the batch is run alone, so
only the bad one gets the error.

``--batching_parameters_file`` is TF Serving's BatchingParameters text proto, e.g.
``max_batch_size { value: 32 } batch_timeout_micros { value: 2000 } num_batch_threads { value: 2 }``.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import re
import threading
import time
from collections.abc import Callable

import numpy as np

from common.errors import UsageError
from estimators.serving.rest_errors import invalid

_FIELD = re.compile(r"\s*([a-z_]+)\s*:?\s*\{\s*value\s*:\s*([0-9]{1,9})\s*\}\s*")


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
    max_batch_size: int = 32
    batch_timeout_micros: int = 1000
    num_batch_threads: int = os.cpu_count() or 1


def parse_batching_parameters(text: str) -> BatchingParameters:
    """The fields kestrel supports of TF Serving's BatchingParameters text proto (others: a usage error)."""
    allowed = [f.name for f in dataclasses.fields(BatchingParameters)]
    values, pos = {}, 0
    text = re.sub(r"#[^\n]*", "", text)
    while pos < len(text.rstrip()):
        match = _FIELD.match(text, pos)
        if not match:
            raise UsageError(
                "batching_parameters_file", f"expected 'field {{ value: N }}' at: {text[pos : pos + 30]!r}"
            )
        if match[1] not in allowed:
            raise UsageError(
                "batching_parameters_file", f"unsupported field '{match[1]}'; allowed: {', '.join(allowed)}"
            )
        values[match[1]] = int(match[2])
        pos = match.end()
    params = BatchingParameters(**values)
    if params.max_batch_size < 1 or params.num_batch_threads < 1:
        raise UsageError("batching_parameters_file", "max_batch_size and num_batch_threads must be at least 1")
    return params


@dataclasses.dataclass
class _Task:
    inputs: dict  # name -> array with `size` rows
    size: int
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    queued: float = dataclasses.field(default_factory=time.monotonic)
    outputs: dict | None = None
    error: Exception | None = None


class Batcher:
    """The queue and batch threads of one signature of one loaded version.

    A batch thread is woken twice a batch, not once a request: when the queue gets its first task, and
    when the batch is full (or its timeout passes). Under load, each wake-up waits its turn for the GIL
    behind the request threads, so a thread woken at every arrival spent most of a batch's time waiting.
    """

    def __init__(self, call: Callable[[dict], dict], params: BatchingParameters):
        self._call, self._params = call, params
        self._queue: collections.deque[_Task] = collections.deque()
        self._rows = 0  # rows waiting in the queue
        self._cond = threading.Condition()
        self._closed = False
        for index in range(params.num_batch_threads):
            threading.Thread(target=self._loop, name=f"batch-{index}", daemon=True).start()

    def run(self, inputs: dict, size: int) -> dict:
        """This request's outputs, computed in a batch with whatever else arrives meanwhile."""
        if size > self._params.max_batch_size:
            raise invalid(f"Task size {size} is larger than maximum input batch size {self._params.max_batch_size}")
        task = _Task(inputs, size)
        with self._cond:
            if self._closed:  # the version was replaced: no batch threads to wait for
                return self._call(inputs)
            self._queue.append(task)
            self._rows += size
            if len(self._queue) == 1 or self._rows >= self._params.max_batch_size:
                self._cond.notify()  # a batch opens, or is full
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.outputs

    def close(self) -> None:
        """The batch threads end once the queue is empty; later requests run alone."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _loop(self) -> None:
        while (batch := self._gather()) is not None:
            self._run(batch)

    def _gather(self) -> list[_Task] | None:
        """The tasks of the next batch: those waiting once it is full or its timeout has passed (None: closed)."""
        limit = self._params.max_batch_size
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait(1.0)
            # TF Serving's timeout runs from the batch's first task: one that waited out a busy batch thread
            # has used its time.
            deadline = self._queue[0].queued + self._params.batch_timeout_micros / 1e6
            while self._rows < limit and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            batch, total = [], 0
            while self._queue and total + self._queue[0].size <= limit:
                task = self._queue.popleft()
                batch.append(task)
                total += task.size
            self._rows -= total
            if self._queue:
                self._cond.notify()  # what did not fit opens the next batch, for another batch thread
            return batch

    def _run(self, batch: list[_Task]) -> None:
        if len(batch) > 1:
            try:
                joined = {name: np.concatenate([t.inputs[name] for t in batch]) for name in batch[0].inputs}
                outputs = self._call(joined)
            except Exception:  # one bad request fails the joined call: run each alone to find it
                outputs = None
            if outputs is not None:
                self._split(batch, outputs)
                return
        for task in batch:
            try:
                task.outputs = self._call(task.inputs)
            except Exception as err:  # the request's own failure, answered to it
                task.error = err
            task.done.set()

    @staticmethod
    def _split(batch: list[_Task], outputs: dict) -> None:
        start = 0
        for task in batch:
            task.outputs = {key: value[start : start + task.size] for key, value in outputs.items()}
            start += task.size
            task.done.set()
