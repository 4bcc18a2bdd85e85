"""A model's figures beside a baseline's: the errors, and the share of the baseline's the model removes."""

from __future__ import annotations

import numpy as np
import pytest

from estimators.reports.errors import errors_beside_baseline, gain_over_baseline

pytestmark = pytest.mark.small


def test_the_gain_is_the_share_of_the_baselines_figure_removed():
    assert gain_over_baseline(0.75, 1.0) == pytest.approx(0.25)
    assert gain_over_baseline(3.0, 2.0) == pytest.approx(-0.5), "worse than the baseline: negative"


def test_a_baseline_of_zero_is_no_gain_not_a_division_by_zero():
    assert gain_over_baseline(0.5, 0.0) == 0.0


def test_errors_beside_a_single_baseline_value():
    errors = errors_beside_baseline(np.array([1.0, 3.0]), np.array([2.0, 2.0]), 0.0)
    assert errors == {"mae": 1.0, "rmse": 1.0, "baseline_mae": 2.0, "baseline_rmse": 2.0}
