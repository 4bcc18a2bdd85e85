"""Scheduled retraining end to end, through scripts/retrain.py as cron runs it: real gate, training, export.

Spans are image folders of scikit-learn's digits (8x8 PNGs under <span>/<class>/), written here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from support import REPO_ROOT, retrain_dirs, run_script, start_script

pytestmark = pytest.mark.medium

TRAIN_STEPS = 150


def write_digits(root: Path, indices: range, shuffle_labels: bool = False) -> Path:
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    labels = digits.target.copy()
    if shuffle_labels:
        labels[list(indices)] = np.random.default_rng(0).permutation(labels[list(indices)])
    for i in indices:
        folder = root / str(labels[i])
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.round(digits.images[i] * 255.0 / 16.0).astype(np.uint8)
        Image.fromarray(pixels, "L").save(folder / f"{i:04d}.png")
    return root


@pytest.fixture(scope="module")
def digit_spans(tmp_path_factory) -> dict[str, Path]:
    """A fixed holdout and three spans: two clean, one with its labels shuffled."""
    base = tmp_path_factory.mktemp("digit_spans")
    return {
        "holdout": write_digits(base / "holdout", range(0, 300)),
        "span-1": write_digits(base / "all" / "span-1", range(300, 750)),
        "span-2": write_digits(base / "all" / "span-2", range(750, 1200)),
        "span-3": write_digits(base / "all" / "span-3", range(1200, 1650), shuffle_labels=True),
    }


def retrain_args(tmp_path: Path, holdout: Path, *extra: str, train_steps: int = TRAIN_STEPS) -> list[str]:
    return [
        *retrain_dirs(tmp_path, holdout),
        "--model_name=digits",
        f"--train_steps={train_steps}",
        "--batch_size=32",
        "--save_checkpoints_steps=25",
        "--progress_every_steps=25",
        "--eval_throttle_secs=600",
        "--validation_running_mode=in_memory",
        "--image_size=8",
        "--noreport",
        "--bless_floor=0.6",
        "--bless_margin=0.05",
        *extra,
    ]


def add_span(tmp_path: Path, source: Path) -> None:
    (tmp_path / "spans").mkdir(exist_ok=True)
    os.symlink(source, tmp_path / "spans" / source.name)


def last_line(result: subprocess.CompletedProcess) -> str:
    return result.stdout.strip().splitlines()[-1]


def served(tmp_path: Path) -> list[str]:
    root = tmp_path / "serving" / "digits"
    return sorted((p.name for p in root.iterdir() if p.name.isdigit()), key=int)


def test_three_spans_push_bless_reject_then_list_show_rollback(digit_spans, tmp_path):
    holdout = digit_spans["holdout"]
    args = retrain_args(tmp_path, holdout)

    # Span 1: no blessed model yet; trained from scratch and pushed as version 1.
    add_span(tmp_path, digit_spans["span-1"])
    first = run_script("scripts.retrain", *args)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert re.search(r"run 1: span span-1 PUSHED version 1 .*from scratch \(no blessed model yet\)", last_line(first))
    assert served(tmp_path) == ["1"]
    assert (tmp_path / "serving" / "digits" / "1" / "saved_model.pb").is_file()

    # The same span again: skipped, nothing trained.
    again = run_script("scripts.retrain", *args)
    assert again.returncode == 0, again.stderr
    assert "span span-1 already trained by run 1: pushed (version 1); skipped" in last_line(again)

    # Span 2 (clean): validated against span 1, warm-started from run 1, blessed, version 2.
    add_span(tmp_path, digit_spans["span-2"])
    second = run_script("scripts.retrain", *args)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert re.search(r"run 2: span span-2 PUSHED version 2 .*warm start from run 1 \(version 1\)", last_line(second))
    assert served(tmp_path) == ["1", "2"]

    # Span 3 (labels shuffled): passes the gate, trains, fails blessing; version 2 stays served.
    add_span(tmp_path, digit_spans["span-3"])
    third = run_script("scripts.retrain", *args)
    assert third.returncode == 5, third.stdout[-2000:] + third.stderr[-2000:]
    line = last_line(third)
    assert "run 3: span span-3 NOT BLESSED" in line and "not pushed; served version unchanged" in line
    assert served(tmp_path) == ["1", "2"]
    assert (tmp_path / "work" / "runs" / "run-00003" / "export").is_dir()  # kept for inspection

    with sqlite3.connect(tmp_path / "work" / "registry.sqlite") as db:
        rows = db.execute("SELECT id, status, pushed_version, blessed, global_step FROM runs ORDER BY id").fetchall()
    assert rows == [
        (1, "pushed", 1, 1, TRAIN_STEPS),
        (2, "pushed", 2, 1, TRAIN_STEPS),
        (3, "not_blessed", None, 0, TRAIN_STEPS),
    ]

    common = [f"--work_dir={tmp_path / 'work'}", f"--serving_dir={tmp_path / 'serving'}", "--model_name=digits"]
    listed = run_script("scripts.retrain", *common, "--list")
    assert listed.returncode == 0, listed.stderr
    assert "serving digits: version 2 (kept 1, 2; rolled back none)" in listed.stdout
    assert re.search(r"^\s+3 .* span-3\s+not_blessed .*holdout accuracy", listed.stdout, re.M)
    assert re.search(r"^\s+2 .* span-2\s+pushed .* 2\*", listed.stdout, re.M)
    # The holdout accuracy of every run against its span, as a picture.
    picture = tmp_path / "work" / "holdout.png"
    assert f"holdout accuracy by span: {picture}" in listed.stdout and picture.read_bytes()[:4] == b"\x89PNG"

    shown = run_script("scripts.retrain", *common, "--show=3")
    assert shown.returncode == 0, shown.stderr
    assert re.search(
        r"^blessing_reason\s+holdout accuracy .* (worse than served version 2|below the floor)", shown.stdout, re.M
    )
    assert re.search(r"^fingerprint\s+[0-9a-f]{16}$", shown.stdout, re.M)
    # The run's learning curves, from its event files (the runs here train with --noreport).
    curves = tmp_path / "work" / "runs" / "run-00003" / "report"
    assert re.search(rf"^curves\s+{re.escape(str(curves / 'curves.png'))}$", shown.stdout, re.M), shown.stdout
    assert json.loads((curves / "curves.json").read_text())["series"]["validation"]["loss"]

    # While a retrain holds the lock (taken by the real lock code in another process), --rollback
    # exits 3 at once, as documented, and moves nothing.
    with _lock_held_elsewhere(tmp_path / "work") as holder:
        blocked = run_script("scripts.retrain", *common, "--rollback")
    assert blocked.returncode == 3, blocked.stdout + blocked.stderr
    errors = [line for line in blocked.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"already running (pid {holder} on " in errors[0], blocked.stderr
    assert served(tmp_path) == ["1", "2"]

    rolled = run_script("scripts.retrain", *common, "--rollback")
    assert rolled.returncode == 0, rolled.stderr
    assert "retrain digits: rolled back: serving version 1 (was 2; set aside 2)" in rolled.stdout
    assert served(tmp_path) == ["1"]
    assert (tmp_path / "serving" / "digits" / ".rolled_back" / "2" / "saved_model.pb").is_file()

    # Back to the newer version: a roll-forward, said as one.
    forward = run_script("scripts.retrain", *common, "--rollback", "--to_version=2")
    assert forward.returncode == 0, forward.stderr
    assert "retrain digits: rolled forward: serving version 2 (was 1; set aside none)" in forward.stdout
    assert "rolled back" not in forward.stdout
    assert served(tmp_path) == ["1", "2"]
    with sqlite3.connect(tmp_path / "work" / "registry.sqlite") as db:
        events = db.execute(
            "SELECT action, version FROM serving_events WHERE action LIKE 'roll%' ORDER BY id"
        ).fetchall()
    assert events == [("rollback", 1), ("rollforward", 2)]

    missing = run_script("scripts.retrain", *common, "--show=42")
    assert missing.returncode == 2 and missing.stderr.strip().startswith("error: --show: no run 42")


@contextlib.contextmanager
def _lock_held_elsewhere(work_dir: Path):
    """Another process holds the retraining lock through RetrainLock, as a running retrain does; yields its pid."""
    code = (
        "import sys, time\n"
        "from pipeline.retraining.lock import RetrainLock\n"
        "with RetrainLock(sys.argv[1]):\n"
        "    print('held', flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(work_dir)],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.communicate("release\n", timeout=60)


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"retrain exited {proc.returncode} before {what}:\n{out[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _checkpoint_step(model_dir: Path) -> int:
    steps = [
        int(m.group(1)) for p in model_dir.glob("model.ckpt-*.index") if (m := re.search(r"-(\d+)\.index$", p.name))
    ]
    return max(steps, default=0)


def test_lock_then_sigkill_mid_training_resumes_from_checkpoint(digit_spans, tmp_path):
    add_span(tmp_path, digit_spans["span-1"])
    steps = 1200  # several seconds of training after the first checkpoint: caught in the middle
    args = retrain_args(tmp_path, digit_spans["holdout"], "--save_checkpoints_steps=50", train_steps=steps)
    model_dir = tmp_path / "work" / "runs" / "run-00001"
    lock_file = tmp_path / "work" / "retrain.lock"
    first = start_script("scripts.retrain", *args)
    try:
        # As cron firing again would: a second invocation while the first holds the lock.
        _wait_for(lambda: lock_file.exists() and lock_file.read_text().startswith("pid "), 120, "the lock", first)
        started = time.monotonic()
        second = run_script("scripts.retrain", *args, timeout=120)
        assert second.returncode == 3, second.stdout + second.stderr
        assert second.stderr.strip().startswith(f"error: already running (pid {first.pid} on ")
        assert len(second.stderr.strip().splitlines()) == 1
        assert time.monotonic() - started < 60
        assert not (tmp_path / "work" / "runs" / "run-00002").exists()

        # A checkpoint past step 0 means training is under way: kill it there, no clean-up allowed.
        _wait_for(lambda: _checkpoint_step(model_dir) >= 50, 240, "a checkpoint", first)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
        first.stdout.close()
    killed_at = _checkpoint_step(model_dir)
    assert 0 < killed_at < steps
    with sqlite3.connect(tmp_path / "work" / "registry.sqlite") as db:
        assert db.execute("SELECT status FROM runs").fetchall() == [("running",)]

    resumed = run_script("scripts.retrain", *args, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert (
        f"resuming run 1 (span span-1, attempt 2) from {model_dir}, from checkpoint step {killed_at}" in resumed.stdout
    )
    progress = [int(s) for s in re.findall(r"^step (\d+)/", resumed.stdout, re.M)]
    assert progress and progress[0] > killed_at  # the global step went on, not from 0
    assert "run 1: span span-1 PUSHED version 1" in last_line(resumed)
    with sqlite3.connect(tmp_path / "work" / "registry.sqlite") as db:
        assert db.execute("SELECT status, attempts, global_step FROM runs").fetchall() == [("pushed", 2, steps)]
