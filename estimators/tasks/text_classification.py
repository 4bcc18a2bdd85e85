"""Text classification: raw strings in, a softmax over the classes out; reported against a bag-of-words baseline.

The head, loss, metrics and serving outputs are classification's. The report
(text_classification_report.py) sets the accuracy beside TF-IDF + logistic
regression's, fitted on the training role's texts and scored on the report role's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from common import tasks
from common.params import TRAIN
from estimators.tasks import text_classification_report
from estimators.tasks.base import Evaluation, ReportData
from estimators.tasks.classification import Classification


def collect_texts(input_fn: Callable[[], tf.data.Dataset], input_name: str) -> tuple[list[str], np.ndarray]:
    """The texts and labels of an evaluation input_fn, in its order."""
    texts: list[str] = []
    labels = []
    for features, batch_labels in input_fn():
        texts += [t.decode("utf-8") for t in features[input_name].numpy()]
        labels.append(batch_labels.numpy().reshape(-1))
    return texts, np.concatenate(labels)


class TextClassification(Classification):
    name = tasks.TEXT_CLASSIFICATION

    def evaluate(self, data: ReportData) -> Evaluation:
        texts, labels = collect_texts(data.read(data.role), data.input_name)
        train_texts, train_labels = collect_texts(data.read(TRAIN), data.input_name)
        baseline = text_classification_report.baseline_accuracy(train_texts, train_labels, texts, labels)
        report = text_classification_report.build_report(
            data.predictions, labels, data.class_names, data.split, baseline
        )
        write = lambda out: text_classification_report.write_report(report, out)  # noqa: E731
        return Evaluation(report, write, text_classification_report)


PLUGIN = TextClassification()
