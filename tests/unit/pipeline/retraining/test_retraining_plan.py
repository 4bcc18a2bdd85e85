"""The retraining plan: skip decided spans, resume killed runs, supersede stale ones."""

from __future__ import annotations

import dataclasses
import io

import pytest

from pipeline.retraining import registry

pytestmark = pytest.mark.small


def _write(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_plan_skips_decided_resumes_killed_and_supersedes_stale(tmp_path):
    from pipeline.retraining import flow
    from pipeline.retraining.config import RetrainConfig

    _write(tmp_path / "spans" / "span-1" / "0" / "a.png", "one")
    _write(tmp_path / "holdout" / "0" / "h.png", "held out")  # plan checks the holdout before it records a run
    config = RetrainConfig(
        spans=str(tmp_path / "spans"),
        holdout=str(tmp_path / "holdout"),
        work_dir=str(tmp_path / "work"),
        serving_dir=str(tmp_path / "serving"),
        model_name="digits",
    )
    out = io.StringIO()
    with registry.Registry(config.work_dir) as reg:
        first = flow.plan(config, reg, out)
        assert isinstance(first, flow.Plan) and not first.resumed
        assert first.model_dir == str(tmp_path / "work" / "runs" / "run-00001")
        # Killed: the row stays RUNNING; the next plan resumes the same run and model_dir.
        again = flow.plan(config, reg, out)
        assert again.resumed and again.run_id == first.run_id and again.model_dir == first.model_dir
        assert "resuming run 1 (span span-1, attempt 2)" in out.getvalue()
        # Newer data arrives before the killed run is finished: the stale row is superseded, not resumed.
        _write(tmp_path / "spans" / "span-2" / "0" / "a.png", "two")
        newer = flow.plan(config, reg, out)
        assert not newer.resumed and newer.run_id == 2
        assert reg.get(1).status == registry.SUPERSEDED
        reg.update(2, status=registry.NOT_BLESSED)
        skipped = flow.plan(config, reg, out)
        assert isinstance(skipped, flow.Outcome) and skipped.exit_code == flow.OK
        assert "span span-2 already trained by run 2: not_blessed; skipped" in skipped.line
        forced = flow.plan(dataclasses.replace(config, force=True), reg, out)
        assert forced.run_id == 3 and [s.name for s in forced.window] == ["span-2"]
        assert flow.plan(dataclasses.replace(config, spans=str(tmp_path / "empty" / "{SPAN}")), reg, out).status == (
            flow.NO_SPANS
        )
