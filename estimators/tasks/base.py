"""The task plug-in interface: what a task does with TensorFlow, asked by the models, engines, exports and the flow.

Each task module (``estimators/tasks/<task>.py``, named by its record's
``module`` in common/tasks.py) holds one ``PLUGIN``: its head and loss, the
Keras metrics under the names its record gives them, its serving outputs,
whether a TFLite export carries a labels file, and its evaluation of the
report role. As tensorflow/models' ``base_task.Task`` (build_model head,
build_losses, build_metrics), so that no caller branches on a task's name.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

from common import tasks
from estimators.training.optimizers import make_optimizer

if TYPE_CHECKING:
    from estimators.models.spec import ModelSpec
    from input_fns.timeseries_source import SeriesSpec


@dataclasses.dataclass(frozen=True)
class ReportData:
    """What a task's evaluation reads: the report role's predictions, and the way to read any role again."""

    predictions: np.ndarray  # in the order of read(role)'s examples
    role: str
    split: str  # the report role's label, as the report prints it
    read: Callable[[str], Callable[[], tf.data.Dataset]]  # a role -> its evaluation input_fn
    class_names: tuple[str, ...]
    series: SeriesSpec | None
    input_name: str  # the model's input feature (images, for a report that shows some)
    export_dir: str | None = None  # the run's export, for a report that asks it (a language model's samples)

    def shown_images(self, most: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``most`` images of the report role's first batch, stretched to [0, 1] per image, and their labels.

        The model's inputs carry its backbone's normalisation (any range): stretched, they can be drawn on a page.
        """
        features, labels = next(iter(self.read(self.role)()))
        images = features[self.input_name][:most].numpy().astype(np.float32)
        low = images.min(axis=(1, 2, 3), keepdims=True)
        high = images.max(axis=(1, 2, 3), keepdims=True)
        return (images - low) / np.maximum(high - low, np.float32(1e-6)), labels[:most].numpy()


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """A task's report of the report role, how to write it into a folder, and the module that writes its page."""

    report: Any  # a dataclass with format(): the lines printed, and report.json
    write: Callable[[str], str]  # report.json and its PNGs into a folder
    page: Any  # has write_html(report, directory, title)
    # Figures over every example that replace the engine's batch-averaged ones in the summary.
    report_metrics: dict[str, float] = dataclasses.field(default_factory=dict)

    @classmethod
    def written_by(cls, report: Any, writer: Any, report_metrics: dict[str, float]) -> Evaluation:
        """The evaluation of a report whose ``writer`` (a ``PrintedReport``) writes both its files and its page."""
        return cls(report, functools.partial(writer.write_report, report), writer, report_metrics)


class TaskPlugin:
    """One task's TensorFlow side. Subclasses set ``name`` and override what differs."""

    name: str = ""
    tflite_labels: bool = True  # a TFLite export writes the class names as labels.txt beside the model
    # The export serves what no Estimator receiver can build (a language model's sampling loop): every engine
    # then exports the trained Keras model with ``signatures``, the Estimator's weights read back into it.
    keras_export: bool = False
    tflite: bool = True  # --tflite_output_file converts its model (False: refused before training)

    @property
    def task(self) -> tasks.Task:
        """The task's record (common.tasks): its metric, metrics and output names."""
        return tasks.TASKS[self.name]

    def head(self, x: tf.Tensor, spec: ModelSpec, l2: float | None = None) -> tf.Tensor:
        """The output layer, named as the record's ``output``, in float32 even under mixed precision."""
        raise NotImplementedError

    def loss(self, spec: ModelSpec) -> str | tf.keras.losses.Loss:
        raise NotImplementedError

    def metrics(self, spec: ModelSpec) -> list[tf.keras.metrics.Metric]:
        """Keras metrics under the names of the record's ``metrics`` (the engines read those)."""
        raise NotImplementedError

    def compile(self, model: tf.keras.Model, spec: ModelSpec) -> tf.keras.Model:
        # model_to_estimator only accepts the legacy (v1-style) optimizers in TF 2.11+;
        # make_optimizer builds only those, and Model.fit takes them as well.
        model.compile(
            optimizer=make_optimizer(spec.optimizer, spec.learning_rate),
            loss=self.loss(spec),
            metrics=self.metrics(spec),
        )
        return model

    def outputs(self, output: tf.Tensor, class_names: tuple[str, ...]) -> dict[str, tf.Tensor]:
        """What a prediction or a served request returns, from the model's output: Estimator, Keras and exports."""
        raise NotImplementedError

    def batch_metric(self, labels: tf.Tensor, predictions: tf.Tensor) -> tf.Tensor | None:
        """The record's metric on one training batch, for the Estimator's summaries; None: accuracy or mae."""
        return None

    def signatures(self, model: tf.keras.Model, how: Any) -> dict[str, Any] | None:
        """The export's own serving signatures (``how``: estimators.serving.Serving); None: by the input's kind."""
        return None

    def evaluate(self, data: ReportData) -> Evaluation:
        """The report of the report role (printed, written into <model_dir>/report, and its page)."""
        raise NotImplementedError

    def engine_name(self, name: str) -> str:
        """The engine (estimators.engines.get_engine) that trains this task under ``--engine=name``: that one,
        unless the task trains differently (a GAN's two players and two optimisers)."""
        return name


def collect_labels(input_fn) -> np.ndarray:
    return np.concatenate([labels.numpy().reshape(-1) for _, labels in input_fn()])


def collect_inputs(input_fn, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Every example's ``key`` feature and its label, in the input_fn's order."""
    pairs = [(features[key].numpy(), labels.numpy()) for features, labels in input_fn()]
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])
