"""Retraining through its front door and across processes: the lock, a bad --holdout named, a span missing a class.

The in-process pieces (spans, registry, blessing, push, schedule, plan, exits) are in tests/unit/pipeline/retraining/."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support import REPO_ROOT

from pipeline.retraining import registry
from pipeline.retraining.lock import ALREADY_RUNNING_EXIT, AlreadyRunningError, RetrainLock

pytestmark = pytest.mark.medium


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
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "0.png").write_text("not an image")
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
