"""TFDV statistics throughput (rows/sec) and peak memory of the validation gate, 1 vs 2 workers.

Runs ``scripts.benchmark_validation`` (generated tabular rows, the whole gate on
DirectRunner multi_processing, once per worker count, round-robin) as a child process
and reads its benchmark.json. The script samples each run's process tree itself; the
suite's sampler around it gives the peak of the whole benchmark, measured the same way
as every other benchmark's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from benchmarks import child, reporting
from common import processes as memory


@dataclasses.dataclass(frozen=True)
class Config:
    out_dir: str
    rows: int = 1_000_000
    shards: int = 8
    workers: tuple[int, ...] = (1, 2)
    repeats: int = 1
    timeout: float = 3600


def argv(cfg: Config) -> list[str]:
    return memory.python_module(
        "scripts.benchmark_validation",
        *child.config_flags(cfg, "rows", "shards"),
        f"--workers={','.join(map(str, cfg.workers))}",
        *child.config_flags(cfg, "repeats"),
        f"--out={cfg.out_dir}",
    )


def run(cfg: Config, echo: Callable[[str], None] | None = None) -> dict:
    measured, figures = child.run_and_read(argv(cfg), cfg, echo)
    per_workers = {
        w: {
            "gate_seconds": b["gate_seconds"],
            "pass_seconds": b["statistics"]["pass_seconds"] if b["statistics"] else b["gate_seconds"],
            "gate_rows_per_sec": b["gate_rows_per_sec"],
            "pass_rows_per_sec": b["pass_rows_per_sec"],
            "cpu_ms_per_1k_rows": b["cpu_ms_per_1k_rows"],
            "peak_memory_mb": b["peak_memory_mb"],
            "load_average_end": b["load_average_end"][0],
        }
        for w, b in figures["best"].items()
    }
    return {
        "benchmark": "validation_stats",
        "rows": figures["rows"],
        "features": figures["features"],
        "runner": figures["runner"],
        "worker_counts": figures["worker_counts"],
        "by_workers": per_workers,
        "speedup": figures["speedup"],
        # The target: 2 workers >= 1.6x 1 worker (statistics pass), peak memory no higher; absent unless 1 and 2 ran.
        "target": figures.get("target"),
        **reporting.measured_fields(measured, cfg.out_dir, "benchmark.json", "benchmark.png"),
    }


def format_table(result: dict) -> str:
    header = f"{'workers':>7} {'gate s':>7} {'pass s':>7} {'pass rows/s':>11} {'gate rows/s':>11} {'CPU ms/1k':>9} {'peak MB':>8}"
    lines = [header, "-" * len(header)]
    for w, b in result["by_workers"].items():
        lines.append(
            f"{w:>7} {b['gate_seconds']:>7.1f} {b['pass_seconds']:>7.1f} {b['pass_rows_per_sec']:>11,} "
            f"{b['gate_rows_per_sec']:>11,} {b['cpu_ms_per_1k_rows']:>9.1f} {b['peak_memory_mb']:>8,}"
        )
    for w, s in result["speedup"].items():
        lines.append(
            f"{w} workers vs {result['worker_counts'][0]}: {s['pass_rows_per_sec']:.2f}x (statistics pass), "
            f"{s['gate_rows_per_sec']:.2f}x (whole gate), peak memory {s['peak_memory']:.2f}x"
        )
    return "\n".join(lines)
