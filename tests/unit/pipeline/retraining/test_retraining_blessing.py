"""Blessing: the floor and the margin over the served model."""

from __future__ import annotations

import pytest

from pipeline.retraining import blessing

pytestmark = pytest.mark.small


@pytest.mark.parametrize(
    "candidate,baseline,blessed,why",
    [
        (0.95, None, True, "first blessed model"),
        (0.70, None, False, "below the floor"),
        (0.90, 0.91, True, "margin"),
        (0.85, 0.91, False, "worse than"),
        (0.95, 0.91, True, "+0.0400"),
        (None, 0.91, False, "no holdout"),
    ],
)
def test_blessing_floor_and_margin(candidate, baseline, blessed, why):
    decision = blessing.decide(blessing.BlessingPolicy(floor=0.8, margin=0.02), candidate, baseline)
    assert decision.blessed is blessed and why in decision.reason
