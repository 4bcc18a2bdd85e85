"""The ranked comparison: a text table (printed), CSV, JSON and a PNG of accuracy against time.

Ranked by the head's validation accuracy (every backbone had the same head, steps and data;
the validation role is the one that chooses), then test accuracy, then the cheaper run.
Fine-tuning figures sit beside the head's; failed and skipped backbones follow, with why.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from collections.abc import Callable

from pipeline.comparison.results import OK, SKIPPED, BackboneResult, RunFigures

TABLE_TXT, TABLE_CSV, TABLE_JSON, TABLE_PNG = "ranking.txt", "ranking.csv", "ranking.json", "ranking.png"
_FIGURES = [f.name for f in dataclasses.fields(RunFigures)]


@dataclasses.dataclass(frozen=True)
class Written:
    rows: list[dict]
    files: dict[str, str]


def seconds_to_head(figures: RunFigures) -> float:
    """What a trained head cost: the engine's run, whose first input read is the base's pass over the data."""
    return figures.train_seconds or 0.0


def ranked(results: list[BackboneResult]) -> list[BackboneResult]:
    def key(r: BackboneResult):
        h = r.head
        if not h.finished:
            return (1 if h.status != SKIPPED else 2, 0.0, 0.0, 0.0, r.backbone)
        return (0, -h.validation_accuracy, -(h.test_accuracy or 0.0), seconds_to_head(h), r.backbone)

    return sorted(results, key=key)


def rows(results: list[BackboneResult]) -> list[dict]:
    """One flat row per backbone, in rank order (rank None: not finished)."""
    out, rank = [], 0
    for r in ranked(results):
        rank += r.head.status == OK
        row = {"rank": rank if r.head.status == OK else None, "backbone": r.backbone}
        row.update(dataclasses.asdict(r.head))
        row["seconds_to_head"] = round(seconds_to_head(r.head), 2) if r.head.finished else None
        tuned = dataclasses.asdict(r.fine_tune) if r.fine_tune else {}
        row.update({f"fine_tune_{name}": tuned.get(name) for name in _FIGURES})
        out.append(row)
    return out


def table(rows: list[dict]) -> str:
    header = (
        f"{'rank':>4}  {'backbone':<20}{'preprocessing':<15}{'params':>12}{'trainable':>11}{'val acc':>9}{'test acc':>9}"
        f"{'extract s':>10}{'epoch s':>9}{'peak MB':>9}  {'fine-tuned val/test':<20}status"
    )
    lines = [header]
    for row in rows:
        tuned = ""
        if row["fine_tune_status"] == OK:
            tuned = f"{_num(row['fine_tune_validation_accuracy'], 4)} / {_num(row['fine_tune_test_accuracy'], 4)}"
        elif row["fine_tune_status"]:
            tuned = row["fine_tune_status"]
        status = row["status"] + (f": {row['reason']}" if row["reason"] else "")
        lines.append(
            f"{row['rank'] or '-':>4}  {row['backbone']:<20}{row['preprocessing'] or '-':<15}{_count(row['params_total']):>12}"
            f"{_count(row['params_trainable']):>11}{_num(row['validation_accuracy'], 4):>9}"
            f"{_num(row['test_accuracy'], 4):>9}{_num(row['extraction_seconds'], 1):>10}"
            f"{_num(row['epoch_seconds'], 3):>9}{_num(row['peak_rss_mb'], 0):>9}  {tuned:<20}{status}"
        )
    return "\n".join(lines)


def _num(value, places: int) -> str:
    return "-" if value is None else f"{value:.{places}f}"


def _count(value) -> str:
    return "-" if value is None else f"{value:,}"


def write(results: dict[str, BackboneResult], out_dir: str, num_classes: int, say: Callable[[str], None]) -> Written:
    """ranking.txt (printed too), ranking.csv, ranking.json and ranking.png in ``out_dir``."""
    ranked_rows = rows(list(results.values()))
    files = {
        kind: os.path.join(out_dir, name)
        for kind, name in (("txt", TABLE_TXT), ("csv", TABLE_CSV), ("json", TABLE_JSON), ("png", TABLE_PNG))
    }
    text = table(ranked_rows)
    say(text)
    with open(files["txt"], "w") as f:
        f.write(text + "\n")
    with open(files["csv"], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(ranked_rows[0]))
        writer.writeheader()
        writer.writerows(ranked_rows)
    with open(files["json"], "w") as f:
        json.dump({"chance_accuracy": 1.0 / num_classes, "rows": ranked_rows}, f, indent=2)
    plot(ranked_rows, 1.0 / num_classes, files["png"])
    say(f"wrote {', '.join(files.values())}")
    return Written(ranked_rows, files)


def plot(rows: list[dict], chance: float, path: str) -> None:
    """Validation accuracy against the seconds to a trained head; point area by total parameters; labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["status"] == OK]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if done:
        largest = max(r["params_total"] or 1 for r in done)
        sizes = [40 + 800 * (r["params_total"] or 0) / largest for r in done]
        times = [max(r["seconds_to_head"], 1e-3) for r in done]
        ax.scatter(times, [r["validation_accuracy"] for r in done], s=sizes, alpha=0.5, edgecolors="black")
        for r, t in zip(done, times, strict=True):
            label = f"{r['backbone']} ({r['params_total'] / 1e6:.1f}M)"
            ax.annotate(label, (t, r["validation_accuracy"]), textcoords="offset points", xytext=(6, 6), fontsize=8)
        ax.set_xscale("log")
        ax.margins(x=0.3, y=0.15)  # room for the labels of the points at the edges
    ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label=f"chance ({chance:.2f})")
    ax.set_xlabel("seconds to a trained head (features extracted, head trained and evaluated)")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Backbones: validation accuracy against time (area: parameters)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
