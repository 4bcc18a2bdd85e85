"""A benchmark that runs one child command: its flags from the Config, its run, the figures it writes.

Written once for the benchmarks whose Config has ``out_dir`` and ``timeout`` and whose child writes
a JSON file of figures in ``out_dir``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from benchmarks import reporting
from common import processes


def config_flags(cfg: object, *names: str) -> list[str]:
    """``--name=value`` for each named field of ``cfg``, in the order given."""
    return [f"--{name}={getattr(cfg, name)}" for name in names]


def run_and_read(
    argv: Sequence[str], cfg: object, echo: Callable[[str], None] | None, figures: str = "benchmark.json"
) -> tuple[processes.Measured, dict]:
    """Run ``argv`` measured, bounded by ``cfg.timeout``; a failed child raises (with the end of its output).

    Returns the measurement and the ``figures`` JSON the child wrote in ``cfg.out_dir``.
    """
    measured = processes.run_measured(argv, timeout=cfg.timeout, echo=echo).check()
    return measured, reporting.read_json(os.path.join(cfg.out_dir, figures))
