"""TFDV statistics throughput (rows/sec) and peak memory of the validation gate.

Runs ``scripts.benchmark_validation`` (generated tabular rows, the whole gate on
DirectRunner) as a child process and reads its benchmark.json. The script samples
its own process tree; the suite's sampler around it gives the same peak, measured
the same way as every other benchmark's.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

from benchmarks import memory, reporting


@dataclasses.dataclass(frozen=True)
class Config:
    out_dir: str
    rows: int = 1_000_000
    shards: int = 8
    timeout: float = 3600


def argv(cfg: Config) -> list[str]:
    return memory.python_module(
        "scripts.benchmark_validation", f"--rows={cfg.rows}", f"--shards={cfg.shards}", f"--out={cfg.out_dir}"
    )


def run(cfg: Config, echo: Callable[[str], None] | None = None) -> dict:
    measured = memory.run_measured(argv(cfg), timeout=cfg.timeout, echo=echo).check()
    figures = reporting.read_json(os.path.join(cfg.out_dir, "benchmark.json"))
    return {
        "benchmark": "validation_stats",
        "rows": figures["rows"],
        "features": figures["features"],
        "runner": figures["runner"],
        "workers": figures["workers"],
        "gate_seconds": figures["seconds"],
        "rows_per_sec": figures["rows_per_sec"],
        "peak_memory_gb_script": figures["peak_memory_gb"],
        **reporting.measured_fields(measured, cfg.out_dir, "benchmark.json", "memory.png"),
    }


def format_table(result: dict) -> str:
    header = f"{'rows':>10} {'gate s':>8} {'rows/sec':>10} {'peak MB':>9} {'workers':>8}"
    return "\n".join(
        [
            header,
            "-" * len(header),
            f"{result['rows']:>10,} {result['gate_seconds']:>8.1f} {result['rows_per_sec']:>10,} "
            f"{result['peak_rss_mb']:>9,.0f} {result['workers']:>8}",
        ]
    )
