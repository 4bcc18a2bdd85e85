"""The evaluation report on the test split: accuracy, per-class precision and recall, a confusion matrix PNG,
and report.html, the page that shows them with the learning curves.

(The course notes evaluated on the training split; the report reads the
eval split the run was given, which defaults to the test split.)
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import os

import numpy as np
import tensorflow as tf

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
CONFUSION_PNG = "confusion_matrix.png"
CURVES_PNG = "curves.png"  # written by estimators.curves beside the others


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
    tf.io.gfile.makedirs(directory)
    with tf.io.gfile.GFile(os.path.join(directory, REPORT_JSON), "w") as f:
        json.dump(dataclasses.asdict(report), f, indent=2)
    with tf.io.gfile.GFile(os.path.join(directory, CONFUSION_PNG), "wb") as f:
        f.write(confusion_png(report))
    return directory


def confusion_png(report: EvaluationReport) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def write_html(report: EvaluationReport, directory: str, title: str) -> str:
    """report.html: the scores, the learning curves and the confusion matrix, in one self-contained file.

    The PNGs beside it are embedded as data: URIs, so the page opens anywhere (a
    bucket, an attachment) without its folder and without network.
    """
    rows = "".join(
        f"<tr><td>{html.escape(c.name)}</td><td>{c.precision:.3f}</td><td>{c.recall:.3f}</td><td>{c.support}</td></tr>"
        for c in report.classes
    )
    figures = figures_html(directory, _FIGURES)
    page = _PAGE.format(
        title=html.escape(title),
        split=html.escape(report.split),
        accuracy=report.accuracy,
        examples=report.examples,
        rows=rows,
        figures=figures,
    )
    path = os.path.join(directory, REPORT_HTML)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(page)
    return path


_FIGURES = (("learning curves", CURVES_PNG), ("confusion matrix", CONFUSION_PNG))
_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}} td:first-child{{text-align:left}}
figure{{display:inline-block;vertical-align:top;margin:1em 1em 0 0}} img{{max-width:100%;max-height:380px}}</style></head>
<body><h1>{title}</h1>
<p>evaluation on <b>{split}</b>: accuracy <b>{accuracy:.4f}</b> over {examples} examples</p>
{figures}
<h2>per class</h2>
<table><tr><th>class</th><th>precision</th><th>recall</th><th>support</th></tr>{rows}</table>
</body></html>
"""


def figures_html(directory: str, figures: tuple[tuple[str, str], ...]) -> str:
    """The (caption, PNG file) figures of ``directory`` that exist, embedded as data: URIs."""
    return "".join(
        f'<figure><img alt="{alt}" src="data:image/png;base64,{data}"><figcaption>{alt}</figcaption></figure>'
        for alt, data in ((alt, _png_base64(directory, name)) for alt, name in figures)
        if data
    )


def _png_base64(directory: str, name: str) -> str:
    path = os.path.join(directory, name)
    if not tf.io.gfile.exists(path):
        return ""
    with tf.io.gfile.GFile(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def collect_labels(input_fn) -> np.ndarray:
    return np.concatenate([labels.numpy().reshape(-1) for _, labels in input_fn()])
