"""The evaluation report on the test split: accuracy, per-class precision and recall, a confusion matrix PNG,
and report.html, the page that shows them with the learning curves.

(The course notes evaluated on the training split; the report reads the
eval split the run was given, which defaults to the test split.)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from estimators.reports.page import Figure, Table, evaluation_summary, png_bytes, pyplot, write_report_page

CONFUSION_PNG = "confusion_matrix.png"


@dataclasses.dataclass(frozen=True)
class ClassScores:
    name: str
    precision: float
    recall: float
    support: int


@dataclasses.dataclass(frozen=True)
class EvaluationReport:
    split: str
    accuracy: float
    examples: int
    classes: tuple[ClassScores, ...]
    confusion: tuple[tuple[int, ...], ...]  # rows: true class, columns: predicted class

    def format(self) -> str:
        width = max(5, *(len(c.name) for c in self.classes))
        lines = [
            f"evaluation on '{self.split}': accuracy {self.accuracy:.4f} over {self.examples} examples",
            f"{'class':<{width}}  precision  recall  support",
        ]
        lines += [f"{c.name:<{width}}  {c.precision:9.3f}  {c.recall:6.3f}  {c.support:7d}" for c in self.classes]
        return "\n".join(lines)


def build_report(
    probabilities: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], split: str
) -> EvaluationReport:
    predicted = np.argmax(probabilities, axis=-1)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    n = len(class_names)
    confusion = np.zeros((n, n), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    classes = []
    for i, name in enumerate(class_names):
        predicted_i, actual_i = confusion[:, i].sum(), confusion[i, :].sum()
        classes.append(
            ClassScores(
                name=name,
                precision=float(confusion[i, i] / predicted_i) if predicted_i else 0.0,
                recall=float(confusion[i, i] / actual_i) if actual_i else 0.0,
                support=int(actual_i),
            )
        )
    return EvaluationReport(
        split=split,
        accuracy=float(np.mean(predicted == labels)) if len(labels) else 0.0,
        examples=int(len(labels)),
        classes=tuple(classes),
        confusion=tuple(tuple(int(v) for v in row) for row in confusion),
    )


def write_report(report: EvaluationReport, directory: str) -> str:
    """report.json and confusion_matrix.png in ``directory``; returns the directory."""
    return FIGURE.write_files(directory, report, confusion_png(report))


def confusion_png(report: EvaluationReport) -> bytes:
    plt = pyplot()
    confusion = np.array(report.confusion)
    names = [c.name for c in report.classes]
    size = max(4.0, 0.5 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{report.split}: accuracy {report.accuracy:.4f}")
    threshold = confusion.max() / 2 if confusion.size else 0
    for (i, j), value in np.ndenumerate(confusion):
        ax.text(j, i, str(value), ha="center", va="center", color="white" if value > threshold else "black")
    return png_bytes(fig)


def write_html(report: EvaluationReport, directory: str, title: str) -> str:
    """report.html: the scores, the learning curves and the confusion matrix, in one self-contained file."""
    summary = evaluation_summary(report.split, f"accuracy <b>{report.accuracy:.4f}</b> over {report.examples} examples")
    return write_report_page(directory, title, summary, FIGURE, table=scores_table(report.classes))


def scores_table(classes: tuple[ClassScores, ...]) -> Table:
    """The "per class" table of a classifier's page: precision, recall and support."""
    return Table(
        "per class",
        ("class", "precision", "recall", "support"),
        tuple((c.name, f"{c.precision:.3f}", f"{c.recall:.3f}", str(c.support)) for c in classes),
    )


FIGURE = Figure("confusion matrix", CONFUSION_PNG)  # a classifier's figure on its page (text or image)
