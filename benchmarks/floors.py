"""What users wait on, beside its floor, side by side in one run (round-robin, the same data).

    python -m benchmarks.floors <out_dir> [repeats]

Each repeat launches, in turn, as a user would (``python -m ...``, launch to exit or to the line):

- ``import tensorflow_data_validation, apache_beam`` alone: the floor of the gate (and the same with the
  cycle collector paused, as kestrel's commands import: the floor the command could reach at best);
- ``scripts.validate_data`` on digits' TFDS training file (1,437 rows), fresh artifacts, the default runner mode;
- ``import tensorflow`` alone: the floor of training (and again with the collector paused);
- ``scripts.train`` (the default job) to its first training step, the gate recalling its verdict
  (the startup benchmark's run: benchmarks/startup.py);
- ``scripts.retrain`` on a span it has already decided on: it skips (a run trained once before the repeats).

The best (shortest) of each counts; the ratios are taken between the best runs, and every run's load
average (1 min, at its start) is printed beside it: the machine is shared.
"""

from __future__ import annotations

import glob
import os
import sys
import tempfile
from collections.abc import Callable

from benchmarks import reporting, retrain_cycle, startup
from common import processes as memory

TARGETS = {"validate_data": ("tfdv_beam_import", 1.5), "first_step": ("tensorflow_import", 1.5)}
# The same imports with the cycle collector paused, as kestrel's commands import them (scripts/cli.py's
# imports_without_gc): the command against the floor it could reach at best, printed beside the target.
PAUSED_FLOORS = {"validate_data": "tfdv_beam_import_gc_paused", "first_step": "tensorflow_import_gc_paused"}
ORDER = (
    "tfdv_beam_import",
    "tfdv_beam_import_gc_paused",
    "validate_data",
    "tensorflow_import",
    "tensorflow_import_gc_paused",
    "first_step",
    "retrain_skip",
)
SKIP_TARGET_SECONDS = 1.5


def _import_argv(*modules: str, gc_paused: bool = False) -> list[str]:
    return [sys.executable, "-c", ("import gc; gc.disable(); " if gc_paused else "") + "import " + ", ".join(modules)]


def _digits_train_files(data_dir: str) -> str:
    found = glob.glob(os.path.join(data_dir, "digits", "*", "digits-train.tfrecord*"))
    if not found:
        raise RuntimeError(f"no digits training files under {data_dir}")
    return os.path.join(os.path.dirname(found[0]), "digits-train.tfrecord*")


def _prepare_retrain(out_dir: str) -> list[str]:
    """One retraining decided on span-1 (10 steps), so that the timed runs skip it."""
    cfg = retrain_cycle.Config(out_dir=os.path.join(out_dir, "retrain"), train_steps=10)
    os.makedirs(os.path.join(cfg.out_dir, "spans"))
    holdout, spans = retrain_cycle.write_spans(cfg)
    os.symlink(spans[0], os.path.join(cfg.out_dir, "spans", "span-1"))
    argv = retrain_cycle.argv(cfg, holdout)
    memory.run_measured(argv, timeout=cfg.timeout).check(allowed=(0, retrain_cycle.NOT_BLESSED_EXIT))
    return argv


def _first_step(cfg: startup.Config, cache: str) -> tuple[float, str]:
    run = startup._one_run(cfg, cache)
    if run["gate"] != "recalled":
        raise RuntimeError("the gate validated instead of recalling its verdict")
    return run["first_step_seconds"], run["first_progress_line"]


def _timed(argv: list[str], expect: str | None = None) -> float:
    measured = memory.run_measured(argv, timeout=900).check()
    if expect and expect not in measured.output():
        raise RuntimeError(f"'{expect}' not in the output of {' '.join(argv)}:\n{measured.output()[-2000:]}")
    return measured.seconds


def run(out_dir: str, repeats: int = 3, echo: Callable[[str], None] = print) -> dict:
    data_dir = os.path.join(out_dir, "tfds")
    startup.prepare_digits(data_dir)
    digits = _digits_train_files(data_dir)
    retrain_argv = _prepare_retrain(out_dir)
    start_cfg = startup.Config(data_dir=data_dir, train_steps=5)
    cache = tempfile.mkdtemp(dir=out_dir, prefix="gate-cache-")
    startup._one_run(start_cfg, cache)  # validates once: the timed runs recall the verdict
    runs: list[dict] = []
    for repeat in range(1, repeats + 1):
        artifacts = tempfile.mkdtemp(dir=out_dir, prefix="validation-")
        plan: list[tuple[str, Callable[[], float]]] = [
            ("tfdv_beam_import", lambda: _timed(_import_argv("tensorflow_data_validation", "apache_beam"))),
            (
                "tfdv_beam_import_gc_paused",
                lambda: _timed(_import_argv("tensorflow_data_validation", "apache_beam", gc_paused=True)),
            ),
            (
                "validate_data",
                lambda a=artifacts: _timed(
                    memory.python_module("scripts.validate_data", f"--data={digits}", f"--artifacts_dir={a}"),
                    expect="CLEAN",
                ),
            ),
            ("tensorflow_import", lambda: _timed(_import_argv("tensorflow"))),
            ("tensorflow_import_gc_paused", lambda: _timed(_import_argv("tensorflow", gc_paused=True))),
            ("first_step", lambda: _first_step(start_cfg, cache)[0]),
            ("retrain_skip", lambda: _timed(retrain_argv, expect="skipped")),
        ]
        for name, measure in plan:
            load = round(os.getloadavg()[0], 2)
            seconds = round(measure(), 2)
            runs.append({"what": name, "repeat": repeat, "seconds": seconds, "load_1min": load})
            echo(f"repeat {repeat}: {name:<27} {seconds:7.2f} s  (load {load})")
    best = {name: min(r["seconds"] for r in runs if r["what"] == name) for name in {r["what"] for r in runs}}
    ratios = {name: round(best[name] / best[floor], 2) for name, (floor, _) in TARGETS.items()}
    paused_ratios = {name: round(best[name] / best[floor], 2) for name, floor in PAUSED_FLOORS.items()}
    result = {
        "benchmark": "floors",
        "command": f"python -m benchmarks.floors <out_dir> {repeats}",
        "machine": reporting.machine(),
        "digits_files": digits,
        "runs": runs,
        "best_seconds": best,
        "ratios": ratios,
        "ratios_over_gc_paused_imports": paused_ratios,
        "targets": {
            **{
                name: {"over": floor, "at_most": limit, "met": ratios[name] <= limit}
                for name, (floor, limit) in TARGETS.items()
            },
            "retrain_skip": {
                "at_most_seconds": SKIP_TARGET_SECONDS,
                "met": best["retrain_skip"] <= SKIP_TARGET_SECONDS,
            },
        },
    }
    reporting.write_json(result, os.path.join(out_dir, "benchmark.json"))
    return result


def format_table(result: dict) -> str:
    best, ratios = result["best_seconds"], result["ratios"]
    header = f"{'what':<27} {'best s':>7}  {'every run s (load)':<40}"
    lines = [header, "-" * len(header)]
    for name in ORDER:
        each = ", ".join(f"{r['seconds']:.2f} ({r['load_1min']:.1f})" for r in result["runs"] if r["what"] == name)
        lines.append(f"{name:<27} {best[name]:>7.2f}  {each}")
    for name, (floor, limit) in TARGETS.items():
        met = "met" if ratios[name] <= limit else "MISSED"
        paused = PAUSED_FLOORS[name]
        lines.append(
            f"{name} / {floor}: {ratios[name]:.2f}x (<= {limit}x: {met}); "
            f"/ {paused}: {result['ratios_over_gc_paused_imports'][name]:.2f}x"
        )
    met = "met" if best["retrain_skip"] <= SKIP_TARGET_SECONDS else "MISSED"
    lines.append(f"retrain_skip: {best['retrain_skip']:.2f} s (<= {SKIP_TARGET_SECONDS} s: {met})")
    return "\n".join(lines)


if __name__ == "__main__":
    out = os.path.abspath(sys.argv[1])
    if os.path.exists(out) and os.listdir(out):
        sys.exit(f"error: {out} is not empty: give a fresh out_dir")
    os.makedirs(out, exist_ok=True)
    print(format_table(run(out, int(sys.argv[2]) if len(sys.argv) > 2 else 3)))
