"""What one run of the training flow prints at the end: the figures and where each came from."""

from __future__ import annotations

import dataclasses

from common.params import VALIDATION
from common.progress import format_duration
from estimators.engines import Result
from estimators.serving.tflite_export import TfliteFile


@dataclasses.dataclass(frozen=True)
class RunSummary:
    result: Result
    engine: str
    model_dir: str
    splits: dict[str, str]  # the split (or files) each role read
    report_role: str
    report_dir: str | None = None
    stages: int = 1
    metric: str = "accuracy"  # the task's (common.tasks): what chose the model and what is reported
    tflite: tuple[TfliteFile, ...] = ()  # --tflite_output_file: the models and labels written
    # What ran, said where the figures are: a figure on random data or in another precision is another figure.
    data: str = ""  # the source and dataset read, e.g. "tfds digits"
    synthetic: bool = False  # --synthetic_data: random inputs of the data's shapes, no real example read
    strategy: str = ""  # the tf.distribute strategy and its replicas in sync
    precision: str = ""  # the Keras dtype policy the model computed in
    gate: str = ""  # what the data gate let through (the slice it read, bad files skipped), or that it was off

    @property
    def accuracy(self) -> float:
        return self.result.report_metrics["accuracy"]

    @property
    def loss(self) -> float:
        return self.result.report_metrics["loss"]

    @property
    def global_step(self) -> int:
        return int(self.result.metrics.get("global_step", 0))

    @property
    def examples_per_sec(self) -> float | None:
        return self.result.examples_per_sec

    @property
    def export_path(self) -> str:
        return self.result.export_path or ""

    def format(self) -> str:
        r = self.result
        if r.task:
            return f"task {r.task} finished training; the chief evaluates and exports ({self.model_dir})"
        rate = f"{r.examples_per_sec:,.0f}" if r.examples_per_sec else "n/a"
        role = self.report_role
        metric = self.metric
        lines = [f"{role + ' ' + metric:<20} {r.report_metrics[metric]:.4f}  (on {self.splits[role]})"]
        if metric != "loss":  # a task chosen by its loss (detection) has said it already
            lines.append(f"{role + ' loss':<21}{r.report_metrics['loss']:.4f}")
        if self.synthetic:
            lines[0] += f"  SYNTHETIC data: random inputs, not {self.data}; says nothing about the model's quality"
        if role == VALIDATION:
            lines[0] += "; no test data, so this is the split that chose the model"
        else:
            lines.append(
                f"{'validation ' + metric:<20} {r.metrics[metric]:.4f}  (on {self.splits[VALIDATION]}; chose the model)"
            )
        lines += [
            f"{'global step':<21}{int(r.metrics['global_step'])}",
            f"{'examples/sec':<21}{rate}",
            f"{'wall time':<21}{format_duration(r.train_seconds)} (train and evaluate)",
            f"{'engine':<21}{self.engine}" + (f" ({self.stages} stages)" if self.stages > 1 else ""),
        ]
        lines += self._what_ran()
        lines += [
            f"{'model_dir':<21}{self.model_dir}",
        ]
        if self.report_dir:
            lines.append(f"{'report':<21}{self.report_dir}")
        lines.append(f"{'export':<21}{r.export_path or ''}")
        lines += [f"{'tflite ' + f.kind:<21}{f.path}  ({_size(f.size_bytes)})" for f in self.tflite]
        return "\n".join(lines)

    def _what_ran(self) -> list[str]:
        """The data, gate, strategy and precision lines (each only when the run said)."""
        data = f"SYNTHETIC (--synthetic_data): random inputs shaped like {self.data}" if self.synthetic else self.data
        named = (("data", data), ("gate", self.gate), ("strategy", self.strategy), ("precision", self.precision))
        return [f"{name:<21}{value}" for name, value in named if value]


def _size(size_bytes: int) -> str:
    return f"{size_bytes / 1024:,.1f} KB" if size_bytes >= 1024 else f"{size_bytes} bytes"
