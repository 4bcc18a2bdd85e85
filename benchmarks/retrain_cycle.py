"""Scheduled retraining: one cycle on a new span, then on the unchanged span (it skips), step by step.

Runs ``scripts.retrain`` as cron would, three times over generated digit spans (8x8 PNG
folders): span-1 arrives (validate, train, evaluate, bless, push), nothing changes (the
registry knows the span: skipped), span-2 arrives (the whole cycle again, now with a
baseline to beat). Each cycle's wall time is the process's, launch to exit; the step
times are what the run registry recorded for that run (``--show`` prints them too).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable

from benchmarks import reporting
from common import processes as memory
from common.progress import run_counter
from pipeline.retraining import registry

STEPS = ("validate", "train", "evaluate", "bless", "push")
NOT_BLESSED_EXIT = 5  # scripts/retrain.py's exit status
OUTCOMES = ("PUSHED", "NOT BLESSED", "STOPPED", "skipped")  # as the flow's last line says them


@dataclasses.dataclass(frozen=True)
class Config:
    out_dir: str
    span_images: int = 450
    holdout_images: int = 300
    train_steps: int = 150
    timeout: float = 900


def write_spans(cfg: Config) -> tuple[str, list[str]]:
    """The holdout and two spans of scikit-learn's digits as class folders of PNGs (no network)."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = os.path.join(cfg.out_dir, "data")
    parts = {"holdout": range(0, cfg.holdout_images)}
    start = cfg.holdout_images
    for name in ("span-1", "span-2"):
        parts[name] = range(start, min(start + cfg.span_images, len(digits.target)))
        start += cfg.span_images
    for name, indices in parts.items():
        for i in indices:
            folder = os.path.join(root, name, str(digits.target[i]))
            os.makedirs(folder, exist_ok=True)
            pixels = np.round(digits.images[i] * 255.0 / 16.0).astype(np.uint8)
            Image.fromarray(pixels, "L").save(os.path.join(folder, f"{i:04d}.png"))
    return os.path.join(root, "holdout"), [os.path.join(root, "span-1"), os.path.join(root, "span-2")]


def argv(cfg: Config, holdout: str) -> list[str]:
    return memory.python_module(
        "scripts.retrain",
        f"--spans={os.path.join(cfg.out_dir, 'spans')}",
        f"--holdout={holdout}",
        f"--work_dir={os.path.join(cfg.out_dir, 'work')}",
        f"--serving_dir={os.path.join(cfg.out_dir, 'serving')}",
        "--model_name=digits",
        f"--train_steps={cfg.train_steps}",
        "--image_size=8",
        "--progress_every_steps=50",
        "--bless_floor=0.5",
    )


def run(cfg: Config, echo: Callable[[str], None] | None = None) -> dict:
    for sub in ("spans", "work", "serving", "data"):
        if os.path.exists(os.path.join(cfg.out_dir, sub)):
            raise RuntimeError(f"{cfg.out_dir} holds an earlier run's {sub}/: give a fresh --out_dir")
    os.makedirs(os.path.join(cfg.out_dir, "spans"))
    holdout, spans = write_spans(cfg)
    cycles = []
    plan = [("new span", spans[0]), ("unchanged span", None), ("new span", spans[1])]
    counter = run_counter(len(plan), echo, what="cycle", unit="cycles")
    for number, (kind, arriving) in enumerate(plan, 1):
        if arriving:
            os.symlink(arriving, os.path.join(cfg.out_dir, "spans", os.path.basename(arriving)))
        # Not blessed (exit 5) is a cycle's outcome, not a failure of the benchmark.
        measured = memory.run_measured(argv(cfg, holdout), timeout=cfg.timeout).check(allowed=(0, NOT_BLESSED_EXIT))
        last = measured.output().strip().splitlines()[-1]
        cycles.append({"cycle": number, "kind": kind, "seconds": round(measured.seconds, 2), "line": last})
        cycles[-1]["peak_rss_mb"] = measured.peak_rss_mb
        counter.update(number, f"{kind}: {measured.seconds:.1f} s")
    runs = registry_timings(os.path.join(cfg.out_dir, "work"))
    for cycle in cycles:
        cycle["outcome"] = next((o for o in OUTCOMES if o in cycle["line"]), "failed")
    ran = [c for c in cycles if c["kind"] == "new span"]
    for cycle, timings in zip(ran, runs, strict=False):
        cycle["steps"] = timings
    result = {
        "benchmark": "retrain_cycle",
        "command": "python -m scripts.retrain " + " ".join(argv(cfg, "<holdout>")[3:]),
        "cycles": cycles,
        "skip_seconds": next(c["seconds"] for c in cycles if c["kind"] == "unchanged span"),
        "peak_rss_mb": max(c["peak_rss_mb"] for c in cycles),
        "load_average": round(os.getloadavg()[0], 2),
        "seconds": sum(c["seconds"] for c in cycles),
    }
    reporting.write_json(result, os.path.join(cfg.out_dir, "benchmark.json"))
    plot(result, os.path.join(cfg.out_dir, "benchmark.png"))
    return result


def registry_timings(work_dir: str) -> list[dict]:
    """Each run's recorded seconds per step, oldest first."""
    with registry.Registry(work_dir) as reg:
        return [run.timings or {} for run in sorted(reg.runs(), key=lambda run: run.id)]


def plot(result: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.6))
    for i, cycle in enumerate(result["cycles"]):
        left = 0.0
        for step in STEPS:
            spent = cycle.get("steps", {}).get(step, 0.0)
            ax.barh(i, spent, left=left, color=f"C{STEPS.index(step)}", label=step if i == 0 else None)
            left += spent
        ax.barh(i, cycle["seconds"] - left, left=left, color="lightgrey", label="start-up, rest" if i == 0 else None)
    ax.set_yticks(range(len(result["cycles"])), [f"{c['cycle']}: {c['kind']}" for c in result["cycles"]])
    ax.invert_yaxis()
    ax.set_xlabel("seconds, launch to exit")
    ax.legend(fontsize=7, ncol=3, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def format_table(result: dict) -> str:
    header = f"{'cycle':>5} {'kind':<15} {'outcome':<14} {'wall s':>7} " + " ".join(f"{s:>9}" for s in STEPS)
    lines = [header, "-" * len(header)]
    for c in result["cycles"]:
        steps = " ".join(f"{c.get('steps', {}).get(s, float('nan')):>9.2f}" for s in STEPS)
        lines.append(f"{c['cycle']:>5} {c['kind']:<15} {c['outcome'].strip()[:14]:<14} {c['seconds']:>7.1f} {steps}")
    return "\n".join(lines)


if __name__ == "__main__":
    out = run(Config(out_dir=sys.argv[1]), print)
    print(format_table(out))
