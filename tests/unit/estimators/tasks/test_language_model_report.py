"""The language model's report: perplexity from the predictions, and its unigram and bigram baselines."""

from __future__ import annotations

import numpy as np
import pytest

from estimators.tasks import language_model_report as lm_report


def test_perplexity_and_the_baselines_on_a_text_that_alternates():
    # The training text alternates 1, 2, 1, 2...: unigram frequencies are 1/2 each (add-one: 4/8 + small);
    # the bigram knows the next character from the last one.
    train = np.array([[1, 2, 1, 2, 1, 2, 1, 2]] * 4)
    inputs, labels = np.array([[2, 1, 2, 1]]), np.array([[1, 2, 1, 2]])
    predictions = np.full((1, 4, 3), 0.25)
    predictions[0, np.arange(4), labels[0]] = 0.5  # the model gives the true character 1/2
    report = lm_report.build_report(predictions, inputs, labels, train, 3, {}, "test")
    assert report.perplexity == pytest.approx(2.0)
    assert report.unigram_perplexity == pytest.approx(35 / 17, rel=1e-6)  # counts 1, 17, 17 of 35
    assert report.bigram_perplexity < 1.2
    assert report.accuracy == 1.0 and report.characters == 4
    assert report.metrics() == {"perplexity": pytest.approx(2.0), "loss": pytest.approx(np.log(2))}
    assert "perplexity 2.000 over 4 characters (unigram baseline 2.059: +2.9%; bigram" in report.format()
