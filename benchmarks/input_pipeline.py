"""Input pipeline: naive vs tuned vs the Keras alternatives, with the ceilings measured in the same run.

Runs ``scripts.benchmark_datasets`` (benchmarks/dataset_benchmark.py) as a child
process on a generated image folder (300x300 JPEGs, decode, resize, augment, batch,
one epoch) and reads its benchmark.json; the child's peak memory is measured around it.
First-epoch figures (first batch included) are what the targets read; the cached
epoch (after one untimed epoch) is reported beside them, labelled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from benchmarks import child, reporting
from common import processes as memory

VARIANTS = (
    "naive",
    "tuned",
    "ceiling",
    "keras_generator",
    "keras_layers",
    "tuned_cached_epoch",
    "ceiling_cached_epoch",
    "synthetic",
)


@dataclasses.dataclass(frozen=True)
class Config:
    out_dir: str
    image_dir: str
    images: int = 2000
    image_size: int = 224
    batch_size: int = 32
    repeats: int = 3
    variants: tuple[str, ...] = VARIANTS
    timeout: float = 1800


def argv(cfg: Config) -> list[str]:
    return memory.python_module(
        "scripts.benchmark_datasets",
        f"--generate_images={cfg.images}",
        *child.config_flags(cfg, "image_dir", "image_size", "batch_size"),
        "--shuffle_buffer=256",
        "--augment_hflip",
        "--augment_zoom=0.2",
        "--augment_brightness=0.2",
        "--augment_contrast=0.2",
        *child.config_flags(cfg, "repeats"),
        f"--variants={','.join(cfg.variants)}",
        f"--out_dir={cfg.out_dir}",
    )


def run(cfg: Config, echo: Callable[[str], None] | None = None) -> dict:
    measured, report = child.run_and_read(argv(cfg), cfg, echo)
    rows = {v["name"]: v["best"] for v in report["variants"]}
    return {
        "benchmark": "input_pipeline",
        "workload": report["workload"],
        "machine": report["machine"],
        "epoch": {v["name"]: v["epoch"] for v in report["variants"]},
        "examples_per_sec": {name: row["examples_per_sec"] for name, row in rows.items()},
        "examples_per_sec_after_first": {name: row["examples_per_sec_after_first"] for name, row in rows.items()},
        "cpu_ms_per_example": {name: row["cpu_ms_per_example"] for name, row in rows.items()},
        "target": report["target"],
        **reporting.measured_fields(measured, cfg.out_dir),
    }


def format_table(result: dict) -> str:
    header = f"{'variant':<22} {'epoch':<13} {'ex/sec':>10} {'CPU ms/ex':>10}"
    lines = [header, "-" * len(header)]
    for name, rate in result["examples_per_sec"].items():
        epoch = result["epoch"][name]
        lines.append(f"{name:<22} {epoch:<13} {rate:>10,.1f} {result['cpu_ms_per_example'][name]:>10.3f}")
    target = result["target"]
    parts = [
        f"tuned = {target['tuned_vs_ceiling']:.0%} of ceiling" if target.get("tuned_vs_ceiling") else "",
        f"{target['tuned_vs_keras_layers']:.1f}x keras_layers" if target.get("tuned_vs_keras_layers") else "",
        f"{target['tuned_vs_keras_generator']:.1f}x keras_generator" if target.get("tuned_vs_keras_generator") else "",
    ]
    lines.append(", ".join(p for p in parts if p) + f" (first epoch); peak {result['peak_rss_mb']:,.0f} MB")
    return "\n".join(lines)
