"""benchmarks/serving_load: each ratio is reported from its median round, both figures from that round."""

from __future__ import annotations

import pytest

from benchmarks import serving_load

pytestmark = pytest.mark.small


def _round(ceiling: float, one: float, off: float, on: float) -> dict:
    return {
        "in_process": {"calls_per_second": ceiling},
        "one_connection": {"requests_per_second": one},
        "batching_off": {"requests_per_second": off},
        "batching_on": {"requests_per_second": on},
        "workers_off": {"requests_per_second": 2 * off},
        "workers_on": {"requests_per_second": 3 * on},
    }


def test_each_ratio_comes_from_its_median_round_with_both_of_its_figures():
    # One connection: ratios 0.5, 0.8, 0.6 -> the third round. Batching: 1.2, 2.5, 1.5 -> the third round too,
    # though neither of its rates is the median rate.
    rounds = [_round(1000, 500, 1000, 1200), _round(2000, 1600, 800, 2000), _round(1500, 900, 1200, 1800)]
    assert serving_load._median_round(rounds, "in_process", "one_connection") == {
        "in_process": {"calls_per_second": 1500},
        "one_connection": {"requests_per_second": 900},
    }
    assert serving_load._median_round(rounds, "batching_off", "batching_on") == {
        "batching_off": {"requests_per_second": 1200},
        "batching_on": {"requests_per_second": 1800},
    }
    assert serving_load.round_ratios({"rounds": rounds}).startswith(
        "rounds (1 connection vs in-process / batching on vs off / on vs off with 2 workers): "
        "0.50x / 1.20x / 1.80x, 0.80x / 2.50x / 3.75x, 0.60x / 1.50x / 2.25x"
    )
