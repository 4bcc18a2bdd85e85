"""The retraining pieces: spans, fingerprints, registry, lock, blessing, push, rollback; a bad --holdout named."""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support import REPO_ROOT

from common.errors import KestrelError, UsageError
from pipeline.retraining import blessing, push, registry, schedule, spans
from pipeline.retraining.lock import ALREADY_RUNNING_EXIT, AlreadyRunningError, RetrainLock

pytestmark = pytest.mark.medium


def _write(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_numbered_spans_order_by_number_not_name(tmp_path):
    for name in ("span-10", "span-2", "span-1", "notes", ".span-99"):
        _write(tmp_path / name / "0" / "a.png", name)
    _write(tmp_path / "span-3.txt")  # a file, not a span folder
    found = spans.discover(str(tmp_path))
    assert [s.name for s in found] == ["span-1", "span-2", "span-10"]
    assert [s.name for s in spans.select(found)] == ["span-10"]
    assert [s.name for s in spans.select(found, window=2)] == ["span-2", "span-10"]
    assert spans.previous(found, found[-1]).name == "span-2"
    assert spans.previous(found, found[0]) is None


def test_dated_spans_and_patterns(tmp_path):
    for name in ("2026-11-20", "20261122", "2026-11-21"):
        _write(tmp_path / "in" / name / "data.tfrecord", name)
    _write(tmp_path / "in" / "2026-02-30" / "data.tfrecord")  # not a date
    found = spans.discover(str(tmp_path / "in" / "{SPAN}" / "*.tfrecord"))
    assert [s.name for s in found] == ["2026-11-20", "2026-11-21", "20261122"]
    assert found[-1].files() == [str(tmp_path / "in" / "20261122" / "data.tfrecord")]

    for number in (1, 2, 11):
        _write(tmp_path / "csv" / f"part-{number}.csv", str(number))
    found = spans.discover(str(tmp_path / "csv" / "part-{SPAN}.csv"))
    assert [s.name for s in found] == ["1", "2", "11"]
    assert found[-1].files() == [str(tmp_path / "csv" / "part-11.csv")]


def test_mixed_or_missing_sources_are_usage_errors(tmp_path):
    _write(tmp_path / "1" / "a")
    _write(tmp_path / "2026-01-01" / "a")
    with pytest.raises(UsageError, match="mixes dated and numbered"):
        spans.discover(str(tmp_path))
    with pytest.raises(UsageError, match="neither a directory"):
        spans.discover(str(tmp_path / "nope"))


def test_fingerprint_follows_content_not_mtime(tmp_path):
    _write(tmp_path / "a" / "1" / "0" / "x.png", "one")
    _write(tmp_path / "b" / "1" / "0" / "x.png", "one")
    (span_a,) = spans.discover(str(tmp_path / "a"))
    (span_b,) = spans.discover(str(tmp_path / "b"))
    first = spans.spans_fingerprint([span_a])
    assert first == spans.spans_fingerprint([span_b])  # a copy elsewhere is the same data
    os.utime(tmp_path / "a" / "1" / "0" / "x.png", (0, 0))
    assert spans.spans_fingerprint([span_a]) == first
    _write(tmp_path / "a" / "1" / "0" / "x.png", "two")
    assert spans.spans_fingerprint([span_a]) != first
    _write(tmp_path / "a" / "1" / "0" / ".x.png.partial", "in flight")
    assert spans.spans_fingerprint([span_a]) == spans.spans_fingerprint([span_a])
    (tmp_path / "empty" / "1").mkdir(parents=True)
    with pytest.raises(UsageError, match="no data files"):
        spans.spans_fingerprint(spans.discover(str(tmp_path / "empty")))


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


def _export(tmp_path, name):
    export = tmp_path / "exports" / name
    _write(export / "saved_model.pb", name)
    _write(export / "variables" / "variables.index", name)
    return str(export)


def test_push_is_atomic_numbered_and_keeps_newest(tmp_path):
    serving = push.ServingDir(str(tmp_path / "serving"), "digits")
    assert serving.served() is None and serving.next_version() == 1
    (tmp_path / "serving" / "digits" / ".incoming-7-1").mkdir(parents=True)  # a killed push's leftovers
    for version in (1, 2, 3):
        path, pruned = serving.push(_export(tmp_path, f"e{version}"), serving.next_version(), keep=2)
        assert path.endswith(f"/digits/{version}")
    assert pruned == [1]
    assert serving.versions() == [2, 3] and serving.served() == 3
    assert sorted(os.listdir(serving.root)) == ["2", "3"]  # no .incoming left behind
    assert (tmp_path / "serving" / "digits" / "3" / "saved_model.pb").read_text() == "e3"
    with pytest.raises(UsageError, match="already exists"):
        serving.push(_export(tmp_path, "again"), 3, keep=2)


def test_rollback_moves_newer_versions_aside_and_never_reuses_numbers(tmp_path):
    serving = push.ServingDir(str(tmp_path / "serving"), "digits")
    for version in (1, 2, 3):
        serving.push(_export(tmp_path, f"e{version}"), version, keep=5)
    assert serving.rollback() == (2, [3])
    assert serving.served() == 2 and serving.rolled_back() == [3]
    assert serving.rollback(to_version=1) == (1, [2])
    assert serving.served() == 1 and serving.next_version() == 4
    assert serving.rollback(to_version=3) == (3, [])  # forward again, from the set-aside copy
    assert serving.versions() == [1, 3] and serving.rolled_back() == [2]
    with pytest.raises(UsageError, match="version 9 is not kept"):
        serving.rollback(to_version=9)
    lone = push.ServingDir(str(tmp_path / "serving"), "lone")
    lone.push(_export(tmp_path, "only"), 1, keep=5)
    with pytest.raises(UsageError, match="no earlier version"):
        lone.rollback()


def test_lock_is_exclusive_and_released_by_a_killed_holder(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pipeline.retraining.lock import RetrainLock
                RetrainLock({str(tmp_path)!r}).acquire()
                print("locked", flush=True)
                time.sleep(60)
                """
            ),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(AlreadyRunningError, match=f"already running \\(pid {holder.pid} ") as err:
            RetrainLock(str(tmp_path)).acquire()
        assert err.value.exit_code == ALREADY_RUNNING_EXIT
    finally:
        holder.kill()
        holder.wait(timeout=10)
    # The holder died without releasing: its lock file is stale, and the lock is free.
    with RetrainLock(str(tmp_path)) as lock:
        assert f"pid {os.getpid()} " in Path(lock.path).read_text()
    assert (tmp_path / "retrain.lock").read_text() == ""


@pytest.mark.parametrize("text,seconds", [("24h", 86400), ("30m", 1800), ("1h30m", 5400), ("2d", 172800), ("90", 90)])
def test_intervals(text, seconds):
    assert schedule.parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "0h", "5x"])
def test_bad_intervals_are_usage_errors(text):
    with pytest.raises(UsageError, match="--every"):
        schedule.parse_interval(text)


def test_every_keeps_ticks_and_survives_a_failed_run():
    now, slept, results = [0.0], [], iter(["run 1 ok", KestrelError("span broken"), "run 3 ok"])

    def run():
        now[0] += 25.0  # each run takes 25 s
        result = next(results)
        if isinstance(result, Exception):
            raise result
        return result

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    out = io.StringIO()
    schedule.every(60.0, run, out, max_runs=3, clock=lambda: now[0], sleep=sleep)
    assert out.getvalue().splitlines()[::2] == ["run 1 ok", "error: span broken", "run 3 ok"]
    assert slept == [35.0, 35.0]  # ticks at 60 and 120, not 25 + 60


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


def _png_folder(root: Path, classes: tuple[str, ...], per_class: int = 3) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8), "L").save(root / name / f"{i}.png")
    return root


def _junk_folder(root: Path, classes: tuple[str, ...]) -> Path:
    for name in classes:
        _write(root / name / "0.png", "not an image")
    return root


@pytest.mark.parametrize(
    "make_holdout,message",
    [
        (lambda root: root / "nonexistent", "is not an image folder"),
        (
            lambda root: _png_folder(root / "holdout", ("a", "c")),
            "has classes ['a', 'c']; the spans being trained have",
        ),
        # Found by training's own decode check (after the gate): named --holdout, not --test_dir.
        (lambda root: _junk_folder(root / "holdout", ("a", "b")), "no decodable images for the test role"),
    ],
    ids=["missing", "other_classes", "undecodable"],
)
def test_retrain_names_a_bad_holdout_as_holdout(make_holdout, message, tmp_path):
    from support import one_error_line, retrain_dirs, run_script

    _png_folder(tmp_path / "spans" / "span-1", ("a", "b"))
    holdout = make_holdout(tmp_path)
    result = run_script(
        "scripts.retrain",
        *retrain_dirs(tmp_path, holdout),
        "--validation_running_mode=in_memory",
        "--image_size=8",
        "--train_steps=2",
        "--noreport",
    )
    error = one_error_line(result, message, f"'{holdout}'")
    assert error.startswith(f"error: --holdout: '{holdout}' ") or error.startswith("error: --holdout: no "), error


def test_a_span_missing_a_class_is_refused_data_and_recorded(tmp_path):
    """Not a usage error: the span arrived without a class the holdout measures. Exit 4 (the table in
    pipeline/retraining/exits.py), one line, a registry row that decides the span; nothing trained."""
    import sqlite3

    from support import retrain_dirs, run_script

    from pipeline.retraining import exits

    _png_folder(tmp_path / "spans" / "span-1", ("a",))
    holdout = _png_folder(tmp_path / "holdout", ("a", "b"))
    args = (
        *retrain_dirs(tmp_path, holdout),
        "--model_name=letters",
        "--validation_running_mode=in_memory",
        "--image_size=8",
        "--train_steps=2",
        "--noreport",
    )
    result = run_script("scripts.retrain", *args)
    assert result.returncode == exits.REFUSED_DATA == 4, result.stdout + result.stderr
    assert "error:" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line == (
        "retrain letters run 1: span span-1 STOPPED by validation: span span-1 has no class ['b'] of the holdout "
        "(it has ['a']); served version unchanged"
    ), line
    with sqlite3.connect(tmp_path / "work" / "registry.sqlite") as db:
        rows = db.execute("SELECT id, span, status, validation, model_dir FROM runs").fetchall()
    assert rows == [(1, "span-1", registry.VALIDATION_FAILED, line.split("validation: ")[1].split(";")[0], "")]
    assert not (tmp_path / "work" / "runs").exists() and not (tmp_path / "serving").exists()

    again = run_script("scripts.retrain", *args)
    assert again.returncode == exits.OK, again.stdout + again.stderr
    assert "span span-1 already trained by run 1: validation_failed; skipped" in again.stdout


def test_the_exit_status_table_is_the_one_docs_print():
    from support import REPO_ROOT

    from pipeline.retraining import exits, flow, lock

    doc = (Path(REPO_ROOT) / "docs" / "retraining.md").read_text()
    assert exits.markdown_table() in doc
    assert (flow.VALIDATION_EXIT, flow.NOT_BLESSED_EXIT, lock.ALREADY_RUNNING_EXIT) == (
        exits.REFUSED_DATA,
        exits.NOT_BLESSED,
        exits.ALREADY_RUNNING,
    )
