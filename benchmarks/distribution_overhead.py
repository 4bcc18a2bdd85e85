"""Mirrored over default on two logical CPU devices: per-step overhead of the Estimator (small CNN, digits).

Runs ``scripts.benchmark_distribution`` as a child process (it splits the CPU before
TensorFlow starts) and reads its results.json.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

from benchmarks import child, reporting
from common import processes as memory


@dataclasses.dataclass(frozen=True)
class Config:
    out_dir: str
    data_dir: str | None
    batch_sizes: tuple[int, ...] = (64, 512)
    steps: int = 200
    warmup_steps: int = 30
    timeout: float = 1800


def argv(cfg: Config) -> list[str]:
    args = [
        f"--output_dir={cfg.out_dir}",
        f"--batch_sizes={','.join(str(b) for b in cfg.batch_sizes)}",
        f"--steps={cfg.steps}",
        f"--warmup_steps={cfg.warmup_steps}",
    ]
    if cfg.data_dir:
        args.append(f"--data_dir={cfg.data_dir}")
    return memory.python_module("scripts.benchmark_distribution", *args)


def run(cfg: Config, echo: Callable[[str], None] | None = None) -> dict:
    os.makedirs(cfg.out_dir, exist_ok=True)
    measured, record = child.run_and_read(argv(cfg), cfg, echo, "results.json")
    return {
        "benchmark": "distribution_overhead",
        "results": [
            {k: r[k] for k in ("strategy", "replicas", "global_batch", "median_ms", "examples_per_sec", "overhead_ms")}
            for r in record["results"]
        ],
        **reporting.measured_fields(measured, cfg.out_dir, "results.json", "overhead.png"),
    }


def format_table(result: dict) -> str:
    header = f"{'strategy':<10} {'batch':>6} {'median ms':>10} {'ex/sec':>9} {'overhead':>9}"
    lines = [header, "-" * len(header)]
    for r in result["results"]:
        lines.append(
            f"{r['strategy']:<10} {r['global_batch']:>6} {r['median_ms']:>10.2f} "
            f"{r['examples_per_sec']:>9,.0f} {r['overhead_ms']:>+8.2f}ms"
        )
    return "\n".join(lines)
