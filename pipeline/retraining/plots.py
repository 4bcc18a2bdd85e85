"""Pictures of the run registry: one run's learning curves (``--show``), every run's holdout metric (``--list``)."""

from __future__ import annotations

import os

from pipeline.retraining.registry import Run

HOLDOUT_PNG = "holdout.png"
_COLOURS = {"pushed": "tab:green", "not_blessed": "tab:orange"}  # any other status: grey


def write_run_curves(run: Run) -> str | None:
    """``<run model_dir>/report/curves.png`` from the run's event files (both stages); None once they are gone."""
    from estimators.reports import curves
    from estimators.stages import FINE_TUNE_DIR

    if not os.path.isdir(run.model_dir):
        return None
    stages = [run.model_dir]
    if os.path.isdir(os.path.join(run.model_dir, FINE_TUNE_DIR)):
        stages.append(os.path.join(run.model_dir, FINE_TUNE_DIR))
    out = os.path.join(run.model_dir, "report")
    curves.write_curves(stages, out, title=f"run {run.id}: span {run.span}")
    return os.path.join(out, curves.CURVES_PNG)


def write_holdout_plot(runs: list[Run], work_dir: str, metric: str = "accuracy") -> str | None:
    """``<work_dir>/holdout.png``: each run's holdout ``metric`` against its span, oldest first, by status."""
    measured = [r for r in sorted(runs, key=lambda r: r.id) if r.holdout_metric(metric) is not None]
    if not measured:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(measured) + 2), 3.6))
    xs = range(len(measured))
    ax.plot(xs, [r.holdout_metric(metric) for r in measured], color="lightgrey", zorder=1)
    for x, run in zip(xs, measured, strict=True):
        colour = _COLOURS.get(run.status, "grey")
        ax.scatter(x, run.holdout_metric(metric), color=colour, zorder=2, label=run.status)
        if run.pushed_version is not None:
            ax.annotate(
                f"v{run.pushed_version}", (x, run.holdout_metric(metric)), xytext=(4, 4), textcoords="offset points"
            )
    ax.set_xticks(list(xs), [f"{r.id}: {r.span}" for r in measured], rotation=30, ha="right")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys())
    ax.set_xlabel("run: span")
    ax.set_ylabel(f"holdout {metric}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = os.path.join(work_dir, HOLDOUT_PNG)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
