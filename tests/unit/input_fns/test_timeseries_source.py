"""The timeseries source's own refusals, before it reads anything."""

from __future__ import annotations

import pytest

from common.errors import UsageError
from common.params import DataParams
from input_fns import timeseries_source
from input_fns.pipeline_ops import DEFAULT_OPTIONS


def test_synthetic_data_is_refused():
    data = DataParams(source="timeseries", task="forecasting", synthetic=True)
    with pytest.raises(UsageError, match=r"^--synthetic_data: not for --source=timeseries "):
        timeseries_source.open(data, 0, DEFAULT_OPTIONS)


def test_one_series_only():
    data = DataParams(source="timeseries", task="forecasting", train_files="a.csv", validation_files="b.csv")
    with pytest.raises(UsageError, match=r"^--validation_files: --source=timeseries reads one series"):
        timeseries_source.open(data, 0, DEFAULT_OPTIONS)
