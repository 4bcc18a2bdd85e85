"""Language modelling: a softmax over the characters at every step, the next character's; perplexity decides.

The course's character-level model (The Time Machine). The loss is the mean
sparse cross-entropy per character and ``perplexity`` its exponential; the
report (language_model_report.py) sets it beside the unigram and bigram
baselines of the training text and samples the export at two temperatures.
The export takes a prompt and returns a continuation (language_model_export.py),
a sampling loop no Estimator receiver can hold, so every engine exports the
trained Keras model (``keras_export``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tensorflow as tf

from common import tasks
from common.params import TRAIN
from estimators.tasks import language_model_report
from estimators.tasks.base import Evaluation, ReportData, TaskPlugin, collect_inputs
from estimators.tasks.language_model_export import continuation_signatures
from input_fns.text_corpus import CHARS_INPUT

if TYPE_CHECKING:
    from estimators.models.spec import ModelSpec


class Perplexity(tf.keras.metrics.Mean):
    """exp of the mean cross-entropy per character (Keras averages the loss; this averages before the exp)."""

    def __init__(self, name: str = "perplexity", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        entropy = tf.keras.losses.sparse_categorical_crossentropy(y_true, tf.cast(y_pred, tf.float32))
        return super().update_state(entropy, sample_weight)

    def result(self):
        return tf.exp(super().result())


class LanguageModel(TaskPlugin):
    name = tasks.LANGUAGE_MODEL
    keras_export = True

    def head(self, x: tf.Tensor, spec: ModelSpec, l2: float | None = None) -> tf.Tensor:
        """A softmax over the vocabulary at every step, in float32."""
        return tf.keras.layers.Dense(spec.num_classes, activation="softmax", dtype="float32", name=self.task.output)(x)

    def loss(self, spec: ModelSpec) -> str | tf.keras.losses.Loss:
        return "sparse_categorical_crossentropy"

    def metrics(self, spec: ModelSpec) -> list[tf.keras.metrics.Metric]:
        return [Perplexity()]

    def batch_metric(self, labels: tf.Tensor, predictions: tf.Tensor) -> tf.Tensor:
        """Perplexity of the batch (not accuracy), under the tag the evaluation writes it."""
        return tf.exp(tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(labels, predictions)))

    def outputs(self, output: tf.Tensor, class_names: tuple[str, ...]) -> dict[str, tf.Tensor]:
        """Per step: the next character's probabilities."""
        return {self.task.output: tf.cast(output, tf.float32)}

    def signatures(self, model: tf.keras.Model, how: Any) -> dict[str, Any]:
        context = dict(how.features).get(CHARS_INPUT)
        return continuation_signatures(model, how.class_names, context)

    def evaluate(self, data: ReportData) -> Evaluation:
        # Every example's input ids and next-character labels, [examples, steps].
        inputs, labels = collect_inputs(data.read(data.role), CHARS_INPUT)
        _, train_labels = collect_inputs(data.read(TRAIN), CHARS_INPUT)
        samples = language_model_report.sample(data.export_dir)
        report = language_model_report.build_report(
            data.predictions, inputs, labels, train_labels, len(data.class_names), samples, data.split
        )
        return Evaluation.written_by(report, language_model_report.WRITER, report.metrics())  # over every character


PLUGIN = LanguageModel()
