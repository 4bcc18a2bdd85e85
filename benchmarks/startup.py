"""Start-up: from launching the default main job (``python -m scripts.train``) to its first training step.

The job runs as a user would start it, with the defaults (digits, small_cnn, the
Estimator engine), a fresh model_dir and progress on every step. The ProgressHook
prints nothing for the first step (it starts its clock there) and ``step 2/N`` after
the second, so the time of that line, from the launch, bounds the first step from
above by one step (milliseconds for the small CNN). The dataset is prepared in
data_dir before the first timed launch, as it is on any machine that trained before.
"""

from __future__ import annotations

import dataclasses
import os
import re
import statistics
import sys
import tempfile
from collections.abc import Callable

from benchmarks import memory
from common.progress import run_counter

TARGET_SECONDS = 15.0
_STEP_LINE = re.compile(r"^step (\d+)/(\d+)")


@dataclasses.dataclass(frozen=True)
class Config:
    data_dir: str | None
    runs: int = 2
    train_steps: int = 300
    timeout: float = 900


def argv(cfg: Config, model_dir: str) -> list[str]:
    args = [
        f"--model_dir={model_dir}",
        "--overwrite_model_dir",
        "--progress_every_steps=1",
        f"--train_steps={cfg.train_steps}",
    ]
    if cfg.data_dir:
        args.append(f"--data_dir={cfg.data_dir}")
    return memory.python_module("scripts.train", *args)


def prepare_digits(data_dir: str | None) -> None:
    code = "import sys; from input_fns import tfds_source; tfds_source.load_builder('digits', sys.argv[1] or None)"
    memory.run_measured([sys.executable, "-c", code, data_dir or ""]).check()


def run(cfg: Config, echo: Callable[[str], None] | None = None) -> dict:
    prepare_digits(cfg.data_dir)
    runs = []
    counter = run_counter(cfg.runs, echo)
    for i in range(cfg.runs):
        with tempfile.TemporaryDirectory() as scratch:
            measured = memory.run_measured(argv(cfg, os.path.join(scratch, "model")), timeout=cfg.timeout).check()
        found = measured.first_line(lambda line: bool(_STEP_LINE.match(line)))
        if found is None:
            raise RuntimeError(f"no progress line from scripts.train:\n{measured.output()[-2000:]}")
        seconds, line = found
        runs.append(
            {
                "first_step_seconds": seconds,
                "first_progress_line": line,
                "job_seconds": measured.seconds,
                "peak_rss_mb": measured.peak_rss_mb,
            }
        )
        counter.update(i + 1, f"'{line.split('  ')[0]}' after {seconds:.2f} s; job {measured.seconds:.1f} s")
    best = min(r["first_step_seconds"] for r in runs)
    return {
        "benchmark": "startup",
        "command": "python -m scripts.train " + " ".join(argv(cfg, "<fresh dir>")[3:]),
        "runs": runs,
        "first_step_seconds_best": best,
        "first_step_seconds_median": statistics.median(r["first_step_seconds"] for r in runs),
        "target_seconds": TARGET_SECONDS,
        "target_met": best <= TARGET_SECONDS,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "seconds": sum(r["job_seconds"] for r in runs),
    }


def format_table(result: dict) -> str:
    header = f"{'run':>4} {'first step s':>13} {'job s':>7} {'peak MB':>8}"
    lines = [header, "-" * len(header)]
    for i, r in enumerate(result["runs"], 1):
        lines.append(f"{i:>4} {r['first_step_seconds']:>13.2f} {r['job_seconds']:>7.1f} {r['peak_rss_mb']:>8,.0f}")
    ok = "met" if result["target_met"] else "MISSED"
    lines.append(f"first training step {result['first_step_seconds_best']:.2f} s after launch (<= 15 s: {ok})")
    return "\n".join(lines)
