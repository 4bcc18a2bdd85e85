"""The run's closing summary: each figure said once, with where it came from."""

from __future__ import annotations

import pytest

from estimators.engines import Result
from pipeline.summary import RunSummary

pytestmark = pytest.mark.small


def _summary(metric: str, report: dict[str, float]) -> str:
    result = Result(
        metrics={metric: 0.5, "loss": 0.5, "global_step": 10},
        report_metrics=report,
        predictions=None,
        export_path="/x/export/1",
        examples_per_sec=100.0,
        train_seconds=3.0,
    )
    splits = {"test": "test", "validation": "train[80%:]"}
    return RunSummary(result, "estimator", "/x", splits, "test", metric=metric).format()


@pytest.mark.parametrize(
    "metric, report, lines",
    [
        (
            "accuracy",
            {"accuracy": 0.9, "loss": 0.3},
            ["test accuracy        0.9000  (on test)", "test loss            0.3000"],
        ),
        ("loss", {"loss": 0.25}, ["test loss            0.2500  (on test)"]),
    ],
    ids=["accuracy", "chosen-by-loss"],
)
def test_the_report_roles_figures_are_said_once_each(metric, report, lines):
    said = [line for line in _summary(metric, report).splitlines() if line.startswith("test ")]
    assert said == lines
