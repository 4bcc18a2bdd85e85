"""Learning curves from a run's own event files: loss and accuracy over steps, training and validation.

Both engines write the same tags in the same layout (``loss``, ``accuracy`` in
``<model_dir>`` for training and ``<model_dir>/eval`` for validation), so one
reader serves both. A fine-tuning stage (``<model_dir>/fine_tune``) continues
the curves after the first stage's last step, behind a marker.
"""

from __future__ import annotations

import dataclasses
import json
import os

import tensorflow as tf

from estimators.reports.page import CURVES_PNG, png_bytes, pyplot

CURVES_JSON = "curves.json"
METRICS = ("loss", "accuracy")
RUNS = {"train": "", "validation": "eval"}  # run -> event-file folder under a stage's model_dir


@dataclasses.dataclass(frozen=True)
class Curves:
    """``series[run][metric]``: (step, value) pairs in step order; ``stage_starts``: first step of each stage."""

    series: dict[str, dict[str, list[tuple[int, float]]]]
    stage_starts: tuple[int, ...]

    def points(self) -> int:
        return sum(len(values) for by_metric in self.series.values() for values in by_metric.values())


def read_scalars(log_dir: str, tags: tuple[str, ...] = METRICS) -> dict[str, list[tuple[int, float]]]:
    """``tag -> [(step, value)]`` from the event files directly in ``log_dir``; the newest value per step wins."""
    latest: dict[str, dict[int, tuple[float, float]]] = {tag: {} for tag in tags}
    for path in tf.io.gfile.glob(os.path.join(log_dir, "events.out.tfevents.*")):
        try:
            for event in tf.compat.v1.train.summary_iterator(path):
                for value in event.summary.value:
                    if value.tag in latest:
                        _keep_newest(latest[value.tag], event, _scalar(value))
        except tf.errors.DataLossError:
            continue  # a file still being written ends in a partial record: what was read stands
    return {tag: [(step, v) for step, (_, v) in sorted(by_step.items())] for tag, by_step in latest.items()}


def _scalar(value) -> float:
    # The Estimator writes simple_value (TF1 summaries); the Keras engine's tf.summary writes a tensor.
    if value.HasField("simple_value"):
        return float(value.simple_value)
    return float(tf.make_ndarray(value.tensor))


def _keep_newest(by_step: dict[int, tuple[float, float]], event, scalar: float) -> None:
    # A resumed run writes a new event file and may repeat steps: the later write is the current one.
    if event.step not in by_step or event.wall_time >= by_step[event.step][0]:
        by_step[int(event.step)] = (event.wall_time, scalar)


def read_curves(stage_dirs: list[str], metrics: tuple[str, ...] = METRICS) -> Curves:
    """The stages' curves end to end: a stage whose steps restart is shifted past the previous stage."""
    series: dict[str, dict[str, list[tuple[int, float]]]] = {run: {m: [] for m in metrics} for run in RUNS}
    starts, last = [], 0
    for stage_dir in stage_dirs:
        stage = {
            run: read_scalars(os.path.join(stage_dir, sub) if sub else stage_dir, metrics) for run, sub in RUNS.items()
        }
        steps = [s for by_metric in stage.values() for values in by_metric.values() for s, _ in values]
        offset = last if steps and min(steps) <= last else 0
        starts.append(last)
        for run, by_metric in stage.items():
            for metric, values in by_metric.items():
                series[run][metric] += [(step + offset, value) for step, value in values]
        last = max([last] + [s + offset for s in steps])
    return Curves(series, tuple(starts))


def curves_png(curves: Curves, title: str = "") -> bytes:
    plt = pyplot()
    metrics = tuple(curves.series["train"])
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for run, style in (("train", "-"), ("validation", "o-")):
            values = curves.series[run][metric]
            if values:
                ax.plot(*zip(*values, strict=True), style, label=run, markersize=3)
        for start in curves.stage_starts[1:]:
            ax.axvline(start, color="grey", linestyle="--", linewidth=0.8)
            ax.annotate("fine-tune", (start, ax.get_ylim()[1]), fontsize=8, va="top")
        ax.set_xlabel("step")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return png_bytes(fig)


def write_curves(stage_dirs: list[str], out_dir: str, title: str = "", metrics: tuple[str, ...] = METRICS) -> Curves:
    """curves.png and curves.json (the points plotted) in ``out_dir``: ``loss`` and the task's metric."""
    curves = read_curves(stage_dirs, metrics)
    tf.io.gfile.makedirs(out_dir)
    with tf.io.gfile.GFile(os.path.join(out_dir, CURVES_JSON), "w") as f:
        json.dump(dataclasses.asdict(curves), f, indent=1)
    with tf.io.gfile.GFile(os.path.join(out_dir, CURVES_PNG), "wb") as f:
        f.write(curves_png(curves, title))
    return curves
