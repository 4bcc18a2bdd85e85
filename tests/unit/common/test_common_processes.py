"""common.processes: what a measured child run reports, and the environment a child starts in."""

from __future__ import annotations

import os
import sys

import psutil
import pytest

from common import processes


def _measured(returncode: int = 0) -> processes.Measured:
    lines = [(0.1, "starting"), (0.5, "step 1"), (0.9, "step 2")]
    return processes.Measured(["python", "-m", "x"], returncode, 1.0, 3 * 2**20, 2, lines)


def test_a_measured_run_reports_its_lines_and_peak():
    run = _measured()
    assert run.output() == "starting\nstep 1\nstep 2"
    assert run.first_line(lambda line: line.startswith("step")) == (0.5, "step 1")
    assert run.first_line(lambda line: line == "never") is None
    assert run.peak_rss_mb == 3.0
    assert run.check() is run


def test_a_run_that_exited_otherwise_raises_with_the_end_of_its_output():
    with pytest.raises(RuntimeError, match=r"python -m x exited with 1:\nstarting\nstep 1\nstep 2"):
        _measured(1).check()
    assert _measured(3).check(allowed=(0, 3)).returncode == 3


def test_the_tree_of_this_process_has_memory():
    rss, count = processes.tree_rss(psutil.Process())
    assert rss >= psutil.Process().memory_info().rss // 2 and count >= 1


def test_a_child_imports_kestrel_from_any_cwd_and_is_unbuffered():
    env = processes.child_env({"EXTRA": "1"})
    assert env["PYTHONPATH"].split(os.pathsep)[0] == processes.REPO_ROOT
    assert os.path.isfile(os.path.join(processes.REPO_ROOT, "common", "processes.py"))
    assert env["PYTHONUNBUFFERED"] == "1" and env["EXTRA"] == "1"
    assert processes.python_module("pipeline.comparison.child", "a") == [
        sys.executable,
        "-m",
        "pipeline.comparison.child",
        "a",
    ]
