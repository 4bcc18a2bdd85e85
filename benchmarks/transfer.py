"""Frozen-base transfer learning with and without the bottleneck cache (VGG16 at 160x160, head only).

Runs ``scripts.bottleneck_benchmark`` (estimators/bottleneck.py's cache: features
once, then the head alone) as a child process and reads its benchmark.json: seconds
per epoch both ways (the speed-up counts the epochs after the first) and the test
accuracy of each. weights=none: no ImageNet download here; a random base's features
are small, hence the documented ``--l2=0 --learning_rate=0.1``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

from benchmarks import memory, reporting


@dataclasses.dataclass(frozen=True)
class Config:
    out_dir: str
    data_dir: str | None
    model: str = "vgg16"
    image_size: int = 160
    epochs: int = 3
    train_split: str = "train"
    eval_split: str = "test"
    batch_size: int = 32
    timeout: float = 3600


def argv(cfg: Config) -> list[str]:
    args = [
        f"--model={cfg.model}",
        "--weights=none",
        f"--image_size={cfg.image_size}",
        f"--epochs={cfg.epochs}",
        "--learning_rate=0.1",
        "--l2=0",
        f"--train_split={cfg.train_split}",
        f"--eval_split={cfg.eval_split}",
        f"--batch_size={cfg.batch_size}",
        f"--out_dir={cfg.out_dir}",
    ]
    if cfg.data_dir:
        args.append(f"--data_dir={cfg.data_dir}")
    return memory.python_module("scripts.bottleneck_benchmark", *args)


def run(cfg: Config, echo: Callable[[str], None] | None = None) -> dict:
    measured = memory.run_measured(argv(cfg), timeout=cfg.timeout, echo=echo).check()
    figures = reporting.read_json(os.path.join(cfg.out_dir, "benchmark.json"))
    speedup = figures["speedup_after_first_epoch"]
    points = figures["accuracy_difference_points"]
    return {
        "benchmark": "transfer_bottleneck",
        **{k: figures[k] for k in ("model", "image_size", "train_examples", "eval_examples", "epochs", "batch_size")},
        "seconds_per_epoch_no_cache": figures["seconds_per_epoch_no_cache"],
        "seconds_per_epoch_cache": figures["seconds_per_epoch_cache"],
        "speedup_after_first_epoch": speedup,
        "accuracy_no_cache": figures["accuracy_no_cache"],
        "accuracy_cache": figures["accuracy_cache"],
        "accuracy_difference_points": points,
        "target": {"speedup_met": speedup >= 10, "accuracy_met": points <= 0.5},
        **reporting.measured_fields(measured, cfg.out_dir),
    }


def format_table(result: dict) -> str:
    uncached, cached = result["seconds_per_epoch_no_cache"], result["seconds_per_epoch_cache"]
    later_u, later_c = sum(uncached[1:]) / len(uncached[1:]), sum(cached[1:]) / len(cached[1:])
    target = result["target"]
    return "\n".join(
        [
            f"{'':24}{'no cache':>12}{'cache':>12}",
            f"{'epoch 1 (s)':24}{uncached[0]:12.1f}{cached[0]:12.1f}",
            f"{'later epochs (s, mean)':24}{later_u:12.2f}{later_c:12.3f}",
            f"{'test accuracy':24}{result['accuracy_no_cache']:12.4f}{result['accuracy_cache']:12.4f}",
            f"speed-up after the first epoch {result['speedup_after_first_epoch']:,.0f}x (>= 10x: "
            f"{'met' if target['speedup_met'] else 'MISSED'}); accuracy {result['accuracy_difference_points']:.2f} "
            f"points apart (<= 0.5: {'met' if target['accuracy_met'] else 'MISSED'})",
        ]
    )
