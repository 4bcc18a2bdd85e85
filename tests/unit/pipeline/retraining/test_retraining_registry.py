"""The SQLite registry of retraining runs."""

from __future__ import annotations

import pytest

from common.errors import UsageError
from pipeline.retraining import registry

pytestmark = pytest.mark.small


def test_registry_records_and_finds_runs(tmp_path):
    with registry.Registry(str(tmp_path)) as reg:
        kwargs = dict(model="m", fingerprint="f1", schema_key="s", code_version="abc", flags={"a": 1})
        first = reg.start(spans=["1"], model_dir="/runs/1", **kwargs)
        assert reg.unfinished("m", "f1").id == first and reg.decided("m", "f1") is None
        reg.update(first, status=registry.PUSHED, metrics={"holdout": {"accuracy": 0.9}}, pushed_version=1)
        reg.record_serving("m", "push", 1, first)
        second = reg.start(spans=["2"], model_dir="/runs/2", **{**kwargs, "fingerprint": "f2"})
        reg.resume(second)
        reg.update(second, status=registry.NOT_BLESSED, blessing_reason="too low")
        run = reg.get(first)
        assert run.holdout_metric("accuracy") == 0.9 and run.finished_at and run.flags == {"a": 1}
        assert reg.decided("m", "f1").id == first and reg.unfinished("m", "f1") is None
        assert reg.get(second).attempts == 2
        assert reg.pushed("m", 1).id == first and reg.max_version("m") == 1
        assert [r.id for r in reg.runs()] == [second, first]
        table = registry.format_table(reg.runs(), {"m": 1})
        assert "too low" in table and "0.9000" in table and "1*" in table
        assert "blessing_reason  too low" in registry.format_run(reg.get(second))
        with pytest.raises(UsageError, match="no run 99"):
            reg.get(99)
