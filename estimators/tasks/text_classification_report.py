"""The text classifier's report: the classification report (accuracy, per-class table, confusion matrix)
beside a bag-of-words baseline, TF-IDF + logistic regression fitted on the same training role.

The baseline reads which words occur, never their order: a model that does not beat it
has learnt nothing a word count could not.
"""

from __future__ import annotations

import dataclasses
import html

import numpy as np

from estimators.reports.page import evaluation_summary, write_report_page
from estimators.tasks import classification_report
from estimators.tasks.classification_report import EvaluationReport

BASELINE = "TF-IDF + logistic regression"


@dataclasses.dataclass(frozen=True)
class TextReport:
    evaluation: EvaluationReport
    baseline_accuracy: float  # the bag-of-words baseline on the same examples
    baseline: str = BASELINE
    # What report.json carries at its top level, as the other tasks' reports do.
    split: str = ""
    accuracy: float = 0.0
    examples: int = 0

    def format(self) -> str:
        lines = self.evaluation.format().splitlines()
        gain = self.accuracy - self.baseline_accuracy
        lines[0] += f" (baseline {self.baseline_accuracy:.4f}, {self.baseline}: {gain:+.4f})"
        return "\n".join(lines)


def baseline_accuracy(train_texts: list[str], train_labels: np.ndarray, texts: list[str], labels: np.ndarray) -> float:
    """The bag-of-words baseline's accuracy on ``texts``, fitted on the training role only."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer()
    classifier = LogisticRegression(max_iter=1000)
    classifier.fit(vectorizer.fit_transform(train_texts), train_labels)
    return float(classifier.score(vectorizer.transform(texts), labels))


def build_report(
    probabilities: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], split: str, baseline: float
) -> TextReport:
    evaluation = classification_report.build_report(probabilities, labels, class_names, split)
    return TextReport(evaluation, baseline, split=split, accuracy=evaluation.accuracy, examples=evaluation.examples)


def write_report(report: TextReport, directory: str) -> str:
    """report.json and confusion_matrix.png in ``directory``."""
    png = classification_report.confusion_png(report.evaluation)
    return classification_report.FIGURE.write_files(directory, report, png)


def write_html(report: TextReport, directory: str, title: str) -> str:
    """report.html: the accuracy beside the baseline's, the per-class table, curves and confusion matrix."""
    summary = evaluation_summary(
        report.split,
        f"accuracy <b>{report.accuracy:.4f}</b> over {report.examples} examples; "
        f"baseline ({html.escape(report.baseline)}) {report.baseline_accuracy:.4f}",
    )
    table = classification_report.scores_table(report.evaluation.classes)
    return write_report_page(directory, title, summary, classification_report.FIGURE, table=table)
