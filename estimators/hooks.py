"""Session hooks that report on a running Estimator."""

from __future__ import annotations

import sys
import time
from typing import TextIO

import tensorflow as tf


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressHook(tf.estimator.SessionRunHook):
    """Prints ``step N/M, examples/sec, time left`` every ``every_steps`` steps.

    Also keeps the steady-state throughput (steps after the first report, so
    graph building and the first batch do not count) for the run summary.
    """

    def __init__(self, max_steps: int, batch_size: int, every_steps: int = 100, stream: TextIO | None = None):
        self._max_steps = max_steps
        self._batch_size = batch_size
        self._every = max(1, every_steps)
        self._stream = stream or sys.stdout
        self._last: tuple[int, float] | None = None
        self._first: tuple[int, float] | None = None
        self.examples_per_sec: float | None = None
        self.last_step: int | None = None  # the step that just ran: names the step a NaN loss stopped

    def begin(self) -> None:
        self._global_step = tf.compat.v1.train.get_global_step()

    def before_run(self, run_context):
        return tf.estimator.SessionRunArgs(self._global_step)

    def after_run(self, run_context, run_values) -> None:
        step, now = int(run_values.results) + 1, time.perf_counter()
        self.last_step = step
        if self._last is None:
            self._last = self._first = (step, now)
            return
        if step % self._every and step < self._max_steps:
            return
        rate = (step - self._last[0]) / max(now - self._last[1], 1e-9)
        self._last = (step, now)
        total_steps = step - self._first[0]
        if total_steps > 0:
            self.examples_per_sec = total_steps * self._batch_size / (now - self._first[1])
        left = (self._max_steps - step) / rate if rate > 0 else 0.0
        print(
            f"step {step}/{self._max_steps} ({100 * step / self._max_steps:.0f}%)  "
            f"{rate * self._batch_size:,.0f} examples/sec  time left {format_duration(left)}",
            file=self._stream,
            flush=True,
        )


class KerasProgress(tf.keras.callbacks.Callback):
    """The ProgressHook's line for Model.fit: ``step N/M, examples/sec, time left``."""

    def __init__(self, max_steps: int, batch_size: int, every_steps: int = 100, stream: TextIO | None = None):
        super().__init__()
        self._max_steps = max_steps
        self._batch_size = batch_size
        self._every = max(1, every_steps)
        self._stream = stream or sys.stdout
        self._last: tuple[int, float] | None = None
        self._first: tuple[int, float] | None = None
        self.examples_per_sec: float | None = None

    def on_train_batch_end(self, batch, logs=None) -> None:
        step, now = int(self.model.optimizer.iterations.numpy()), time.perf_counter()
        if self._last is None:
            self._last = self._first = (step, now)
            return
        if step % self._every and step < self._max_steps:
            return
        rate = (step - self._last[0]) / max(now - self._last[1], 1e-9)
        self._last = (step, now)
        if step > self._first[0]:
            self.examples_per_sec = (step - self._first[0]) * self._batch_size / (now - self._first[1])
        left = (self._max_steps - step) / rate if rate > 0 else 0.0
        print(
            f"step {step}/{self._max_steps} ({100 * step / self._max_steps:.0f}%)  "
            f"{rate * self._batch_size:,.0f} examples/sec  time left {format_duration(left)}",
            file=self._stream,
            flush=True,
        )
