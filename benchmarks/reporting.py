"""Shared output of the suite's benchmarks: JSON files, the machine record, child output echo."""

from __future__ import annotations

import json
import os
import platform
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any


def machine() -> dict:
    """The machine the figures come from, and how busy it was (load from other processes skews them)."""
    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def write_json(record: dict, path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(record, f, indent=2, default=str)
    return path


def read_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def indented(print_line: Callable[[str], None], prefix: str = "    ") -> Callable[[str], None]:
    """A child's output lines, indented under the suite's own."""
    return lambda line: print_line(prefix + line)


def measured_fields(measured, out_dir: str, json_name: str = "benchmark.json", png_name: str = "benchmark.png") -> dict:
    """The fields every child-process benchmark reports: its peak RSS, its time and the files it wrote."""
    return {
        "peak_rss_mb": measured.peak_rss_mb,
        "seconds": measured.seconds,
        "files": {"json": os.path.join(out_dir, json_name), "png": os.path.join(out_dir, png_name)},
    }


def table(columns: Sequence[tuple[str, str, Callable[[Any], Any]]], items: Iterable) -> list[str]:
    """A printed table's lines: the header, a rule as wide as it, then one line an item.

    ``columns``: each column's title, its values' format spec (``<22``, ``>10.1f``, ``>11,``), which starts
    with the alignment and width the title takes too, and the item's value in it.
    """
    header = " ".join(f"{title:{_ALIGN_AND_WIDTH.match(spec).group()}}" for title, spec, _ in columns)
    lines = (" ".join(f"{value(item):{spec}}" for _, spec, value in columns) for item in items)
    return [header, "-" * len(header), *lines]


_ALIGN_AND_WIDTH = re.compile(r"[<>^]?\d*")
