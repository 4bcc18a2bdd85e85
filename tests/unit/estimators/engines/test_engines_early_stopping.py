"""estimators.engines.early_stopping: each metric in its own direction, checked against the task, one line."""

from __future__ import annotations

import io

import pytest

from common import tasks
from common.errors import UsageError
from estimators.engines.early_stopping import EarlyStopping


@pytest.mark.parametrize(
    ("metric", "higher"),
    [("accuracy", True), ("mean_iou", True), ("pixel_accuracy", True), ("mae", False), ("loss", False)],
)
def test_each_metric_improves_in_its_own_direction(metric, higher):
    assert EarlyStopping(metric).higher_is_better is higher


def test_an_unknown_metric_is_refused_naming_the_allowed_ones():
    with pytest.raises(UsageError, match=r"--early_stopping_metric: unknown metric 'f1'; allowed: accuracy, loss"):
        EarlyStopping("f1")


def test_a_metric_the_task_does_not_report_is_refused():
    EarlyStopping("mae").check_task(tasks.get(tasks.REGRESSION))
    with pytest.raises(UsageError, match="'mae' is not a classification metric; allowed: accuracy, loss"):
        EarlyStopping("mae").check_task(tasks.get(tasks.CLASSIFICATION))


def test_the_line_is_said_only_when_the_rule_ended_the_run_early():
    rule = EarlyStopping("loss", max_steps_without_improvement=30)
    stream = io.StringIO()
    rule.announce(100, 100, stream)
    assert stream.getvalue() == ""
    rule.announce(60, 100, stream)
    assert stream.getvalue() == "early stopping at step 60: validation loss has not improved for 30 steps\n"
