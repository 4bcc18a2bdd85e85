"""Session hooks that report on a running Estimator."""

from __future__ import annotations

import time
from typing import TextIO

import tensorflow as tf

from common.progress import ProgressLine


class ProgressHook(ProgressLine, tf.estimator.SessionRunHook):
    """The progress line as an Estimator SessionRunHook."""

    def begin(self) -> None:
        self._global_step = tf.compat.v1.train.get_global_step()

    def before_run(self, run_context):
        return tf.estimator.SessionRunArgs(self._global_step)

    def after_run(self, run_context, run_values) -> None:
        self.update(int(run_values.results) + 1)


class KerasProgress(tf.keras.callbacks.Callback):
    """The progress line as a Model.fit callback."""

    def __init__(self, max_steps: int, batch_size: int, every_steps: int = 100, stream: TextIO | None = None):
        super().__init__()
        self._line = ProgressLine(max_steps, batch_size, every_steps, stream)

    @property
    def examples_per_sec(self) -> float | None:
        return self._line.examples_per_sec

    def on_train_batch_end(self, batch, logs=None) -> None:
        self._line.update(int(self.model.optimizer.iterations.numpy()))


class KerasPredictProgress(tf.keras.callbacks.Callback):
    """A prediction pass's progress line as a Model.predict callback: examples done after each batch."""

    def __init__(self, line: ProgressLine, batch_size: int, total: int):
        super().__init__()
        self._line = line
        self._batch_size = batch_size
        self._total = total

    def on_predict_batch_end(self, batch, logs=None) -> None:
        self._line.update(min((batch + 1) * self._batch_size, self._total))


class Throughput:
    """Examples per second between two calls of ``rate(step)`` (None at the first: no interval yet)."""

    def __init__(self, batch_size: int):
        self._batch_size = batch_size
        self._last: tuple[int, float] | None = None

    def rate(self, step: int) -> float | None:
        now = time.perf_counter()
        last, self._last = self._last, (step, now)
        if last is None or step <= last[0]:
            return None
        return (step - last[0]) * self._batch_size / max(now - last[1], 1e-9)


class ExamplesPerSecHook(tf.estimator.SessionRunHook):
    """The ``examples_per_sec`` scalar every ``every_steps`` steps, into the Estimator's own event file.

    The Estimator writes ``global_step/sec`` (every log_step_count_steps); this
    is the figure the Keras engine writes too, under the same tag.
    """

    def __init__(self, model_dir: str, batch_size: int, every_steps: int):
        self._model_dir = model_dir
        self._every = max(1, every_steps)
        self._throughput = Throughput(batch_size)

    def begin(self) -> None:
        self._global_step = tf.compat.v1.train.get_global_step()

    def after_create_session(self, session, coord) -> None:
        # The clock starts with the first step (a resumed run starts from the checkpoint's step).
        self._throughput.rate(int(session.run(self._global_step)))

    def before_run(self, run_context):
        return tf.estimator.SessionRunArgs(self._global_step)

    def after_run(self, run_context, run_values) -> None:
        step = int(run_values.results) + 1
        if step % self._every:
            return
        rate = self._throughput.rate(step)
        if rate is not None:
            summary = tf.compat.v1.Summary(
                value=[tf.compat.v1.Summary.Value(tag="examples_per_sec", simple_value=rate)]
            )
            tf.compat.v1.summary.FileWriterCache.get(self._model_dir).add_summary(summary, step)
