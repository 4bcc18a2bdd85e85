"""Child processes: run one, sample the peak resident memory of it and all its descendants, time its lines.

The backbone comparison (pipeline/comparison) runs each backbone this way, and every
benchmark of the suite runs in its own child process through ``run_measured``, so a
peak belongs to one run (Beam workers and other grandchildren included) and the
timestamps of its output lines mark events such as the first training step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

import psutil

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass
class Measured:
    argv: list[str]
    returncode: int
    seconds: float
    peak_rss_bytes: int
    peak_processes: int
    # (seconds since launch, line) for every line the child printed on stdout or stderr.
    lines: list[tuple[float, str]]

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss_bytes / 2**20

    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def first_line(self, predicate: Callable[[str], bool]) -> tuple[float, str] | None:
        return next(((t, line) for t, line in self.lines if predicate(line)), None)

    def check(self, allowed: tuple[int, ...] = (0,)) -> Measured:
        """The run itself, or an error with the end of its output if it exited other than ``allowed``."""
        if self.returncode not in allowed:
            tail = "\n".join(line for _, line in self.lines[-25:])
            raise RuntimeError(f"{' '.join(self.argv)} exited with {self.returncode}:\n{tail}")
        return self


def tree_rss(process: psutil.Process) -> tuple[int, int]:
    """(resident bytes, processes) of ``process`` and all its descendants right now."""
    total, count = 0, 0
    try:
        family = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for proc in family:
        try:
            total += proc.memory_info().rss
            count += 1
        except psutil.Error:  # gone between listing and reading
            pass
    return total, count


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child ``python -m`` run: kestrel's modules importable from any cwd.

    Children run in the caller's working directory, so a relative path a user passes
    (``--out_dir=runs/x``) means the same in the child as in the parent, never the repository.
    """
    path = os.pathsep.join(p for p in (REPO_ROOT, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", **(extra or {})}


def python_module(module: str, *args: str) -> list[str]:
    """argv for ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def run_measured(
    argv: Sequence[str],
    timeout: float | None = None,
    echo: Callable[[str], None] | None = None,
    stop_when: Callable[[str], bool] | None = None,
    every: float = 0.05,
    env: dict[str, str] | None = None,
) -> Measured:
    """Run ``argv`` in this process's cwd; sample its tree's RSS every ``every`` seconds.

    ``echo`` sees each output line as it arrives; ``stop_when`` ends the child
    (and its children) at the first line it accepts.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        env=child_env(env),
    )
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        me = psutil.Process(proc.pid)
        while not done.is_set():
            rss, count = tree_rss(me)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], count)
            done.wait(every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timer = threading.Timer(timeout, _kill_tree, args=(proc.pid,)) if timeout else None
    if timer:
        timer.start()
    lines: list[tuple[float, str]] = []
    try:
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            lines.append((time.perf_counter() - started, line))
            if echo:
                echo(line)
            if stop_when and stop_when(line):
                _kill_tree(proc.pid)
                break
        proc.wait()
    finally:
        seconds = time.perf_counter() - started
        if timer:
            timer.cancel()
        done.set()
        sampler.join()
    returncode = 0 if stop_when and lines and stop_when(lines[-1][1]) else proc.returncode
    return Measured(list(argv), returncode, seconds, peak[0], peak[1], lines)


def _kill_tree(pid: int) -> None:
    try:
        parent = psutil.Process(pid)
        family = [*parent.children(recursive=True), parent]
    except psutil.Error:
        return
    for proc in family:
        with contextlib.suppress(psutil.Error):
            proc.kill()
