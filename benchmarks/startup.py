"""Start-up: from launching the default main job (``python -m scripts.train``) to its first training step.

The job runs as a user would start it, with the defaults (digits, small_cnn, the
Estimator engine), a fresh model_dir and progress on every step. The ProgressHook
prints nothing for the first step (it starts its clock there) and ``step 2/N`` after
the second, so the time of that line, from the launch, bounds the first step from
above by one step (milliseconds for the small CNN). The dataset is prepared in
data_dir before the first timed launch, as it is on any machine that trained before.

The validation gate is on, as by default, with a verdict cache of the benchmark's
own: the first run validates the data (TFDV and Beam), the later ones find it
unchanged and recall the verdict. The target is on the recalled runs; the
validated run's figure is the gate's cost on changed data, reported beside it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import statistics
import sys
import tempfile
from collections.abc import Callable

from common import processes as memory
from common.progress import run_counter

TARGET_SECONDS = 6.0  # the first step of a run whose gate recalls its verdict
RECALLED = "TFDV not run"  # in the gate's line when it recalled the verdict (pipeline/data_gate.py)
_STEP_LINE = re.compile(r"^step (\d+)/(\d+)")


@dataclasses.dataclass(frozen=True)
class Config:
    data_dir: str | None
    runs: int = 2
    train_steps: int = 300
    timeout: float = 900


def argv(cfg: Config, model_dir: str, gate_cache_dir: str = "<cache>") -> list[str]:
    args = [
        f"--model_dir={model_dir}",
        f"--gate_cache_dir={gate_cache_dir}",
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
    with tempfile.TemporaryDirectory() as cache:
        for i in range(cfg.runs):
            runs.append(_one_run(cfg, cache))
            r = runs[-1]
            note = f"gate {r['gate']}: first step after {r['first_step_seconds']:.2f} s; job {r['job_seconds']:.1f} s"
            counter.update(i + 1, note)
    recalled = [r["first_step_seconds"] for r in runs if r["gate"] == "recalled"]
    validated = [r["first_step_seconds"] for r in runs if r["gate"] == "validated"]
    best = min(recalled) if recalled else None
    return {
        "benchmark": "startup",
        "command": "python -m scripts.train " + " ".join(argv(cfg, "<fresh dir>")[3:]),
        "runs": runs,
        "first_step_seconds_best": best,
        "first_step_seconds_median": statistics.median(recalled) if recalled else None,
        "first_step_seconds_validated": min(validated) if validated else None,
        "target_seconds": TARGET_SECONDS,
        "target_met": best is not None and best <= TARGET_SECONDS,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "seconds": sum(r["job_seconds"] for r in runs),
    }


def _one_run(cfg: Config, cache: str) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        measured = memory.run_measured(argv(cfg, os.path.join(scratch, "model"), cache), timeout=cfg.timeout).check()
    found = measured.first_line(lambda line: bool(_STEP_LINE.match(line)))
    if found is None:
        raise RuntimeError(f"no progress line from scripts.train:\n{measured.output()[-2000:]}")
    seconds, line = found
    return {
        "first_step_seconds": seconds,
        "first_progress_line": line,
        "gate": "recalled" if RECALLED in measured.output() else "validated",
        "job_seconds": measured.seconds,
        "peak_rss_mb": measured.peak_rss_mb,
    }


def format_table(result: dict) -> str:
    header = f"{'run':>4} {'gate':>10} {'first step s':>13} {'job s':>7} {'peak MB':>8}"
    lines = [header, "-" * len(header)]
    for i, r in enumerate(result["runs"], 1):
        lines.append(
            f"{i:>4} {r['gate']:>10} {r['first_step_seconds']:>13.2f} {r['job_seconds']:>7.1f} {r['peak_rss_mb']:>8,.0f}"
        )
    ok = "met" if result["target_met"] else "MISSED"
    best = result["first_step_seconds_best"]
    shown = "no run recalled the verdict" if best is None else f"{best:.2f} s after launch"
    lines.append(f"first training step, gate recalled: {shown} (<= {TARGET_SECONDS:.0f} s: {ok})")
    if result["first_step_seconds_validated"] is not None:
        lines.append(f"first training step, gate validated: {result['first_step_seconds_validated']:.2f} s")
    return "\n".join(lines)
