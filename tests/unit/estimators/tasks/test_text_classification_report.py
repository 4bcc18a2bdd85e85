"""The text report's bag-of-words baseline: fitted on the training texts only, printed and written beside the model's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from estimators.tasks import text_classification_report as text_report


def test_the_baseline_is_fitted_on_the_training_texts_only():
    """Training texts say 'good' is class 0; the texts it is scored on say the opposite, so it must score 0."""
    train = ["good good film", "good plot", "bad bad film", "bad plot"] * 5
    train_labels = np.array([0, 0, 1, 1] * 5)
    texts = ["good film", "bad film"]
    assert text_report.baseline_accuracy(train, train_labels, texts, np.array([1, 0])) == 0.0
    assert text_report.baseline_accuracy(train, train_labels, texts, np.array([0, 1])) == 1.0


def test_the_report_prints_and_writes_the_baseline_beside_the_accuracy(tmp_path):
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    report = text_report.build_report(probabilities, np.array([0, 1, 1, 1]), ("neg", "pos"), "test", 0.5)
    first = report.format().splitlines()[0]
    assert first == (
        "evaluation on 'test': accuracy 0.7500 over 4 examples (baseline 0.5000, TF-IDF + logistic regression: +0.2500)"
    )
    text_report.write_report(report, str(tmp_path))
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["accuracy"] == 0.75 and written["baseline_accuracy"] == 0.5
    assert written["evaluation"]["confusion"] == [[1, 0], [1, 2]]
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 1000
    page = Path(text_report.write_html(report, str(tmp_path), "t"))
    html = page.read_text()
    assert "TF-IDF + logistic regression" in html and report.accuracy == pytest.approx(0.75)
    # The classifier's page: its per-class table and its confusion matrix, as an image classifier's.
    assert "<th>class</th><th>precision</th><th>recall</th><th>support</th>" in html
    assert "<tr><td>neg</td><td>0.500</td><td>1.000</td><td>1</td></tr>" in html
    assert "<tr><td>pos</td><td>1.000</td><td>0.667</td><td>3</td></tr>" in html
    assert '<img alt="confusion matrix"' in html
