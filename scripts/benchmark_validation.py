"""Benchmark: TFDV statistics (the validation gate) on generated tabular rows, on DirectRunner.

python -m scripts.benchmark_validation --rows=1000000 --out=runs/benchmark_validation

Generates --rows rows of 20 features (12 float, 4 int, 4 categorical) into --shards TFRecord
(or CSV) files once, then runs the whole gate (Beam statistics, schema, checks, reports) and
prints rows/sec and the peak memory of this process and its worker processes together. Writes
benchmark.json and memory.png into --out. The target: 1,000,000 rows in <= 120 s, < 4 GB.
"""

from __future__ import annotations

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
import json
import os
import platform
import threading
import time

import numpy as np
import psutil
import pyarrow as pa
from absl import flags

from common.progress import run_counter
from pipeline.validation import gate
from pipeline.validation.config import RUNNING_MODES, RunnerOptions, ValidationConfig

flags.DEFINE_integer("rows", 1_000_000, "Rows to generate.", lower_bound=1)
flags.DEFINE_integer("shards", 8, "Files to write them into (parallelism is per file).", lower_bound=1)
flags.DEFINE_enum("format", "tfrecord", ["tfrecord", "csv"], "Input format.")
flags.DEFINE_string("out", "runs/benchmark_validation", "Generated data, artifacts, benchmark.json, memory.png.")
flags.DEFINE_enum("direct_running_mode", "multi_processing", RUNNING_MODES, "DirectRunner mode.")
flags.DEFINE_integer("direct_num_workers", 0, "DirectRunner workers; 0: one per core.", lower_bound=0)
flags.DEFINE_boolean("semantic_domain_stats", True, "Image/text/time statistics (as the gate runs by default).")
FLAGS = flags.FLAGS

NUM_FLOAT, NUM_INT, NUM_CAT = 12, 4, 4
_CHUNK = 50_000


def _columns(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {}
    for i in range(NUM_FLOAT):
        cols[f"f{i}"] = rng.normal(i, 1 + i / 4, n).astype(np.float32)
    for i in range(NUM_INT):
        cols[f"i{i}"] = rng.integers(0, 10 ** (i + 1), n)
    for i in range(NUM_CAT):
        vocab = np.array([f"v{i}_{k}" for k in range(5 + 10 * i)])
        cols[f"c{i}"] = vocab[rng.integers(0, len(vocab), n)]
    return cols


def _list_array(values: np.ndarray) -> pa.Array:
    """One value per row, as the list<float32|int64|binary> columns tf.Example encoding takes."""
    offsets = pa.array(np.arange(len(values) + 1, dtype=np.int64))
    if values.dtype.kind == "U":
        flat = pa.array(np.char.encode(values).tolist(), type=pa.large_binary())
    else:
        flat = pa.array(values)
    return pa.LargeListArray.from_arrays(offsets, flat)


def _write_tfrecord(path: str, n: int, rng: np.random.Generator) -> None:
    import tensorflow as tf
    from tfx_bsl.coders import example_coder

    with tf.io.TFRecordWriter(path) as writer:
        for start in range(0, n, _CHUNK):
            cols = _columns(min(_CHUNK, n - start), rng)
            arrays = [_list_array(v) for v in cols.values()]
            batch = pa.RecordBatch.from_arrays(arrays, list(cols))
            for record in example_coder.RecordBatchToExamplesEncoder().encode(batch):
                writer.write(record)


def _write_csv(path: str, n: int, rng: np.random.Generator) -> None:
    import pandas as pd

    header = True
    for start in range(0, n, _CHUNK):
        pd.DataFrame(_columns(min(_CHUNK, n - start), rng)).to_csv(
            path, mode="w" if header else "a", index=False, header=header
        )
        header = False


def generate(data_dir: str, rows: int, shards: int, fmt: str) -> str:
    """Writes the shards once; a later run with the same sizes reuses them."""
    os.makedirs(data_dir, exist_ok=True)
    ext = "tfrecord" if fmt == "tfrecord" else "csv"
    done = os.path.join(data_dir, f"DONE-{rows}-{shards}-{fmt}")
    pattern = os.path.join(data_dir, f"rows-*-of-{shards:05d}.{ext}")
    if os.path.exists(done):
        print(f"reusing {rows:,} generated rows in {data_dir}", flush=True)
        return pattern
    start = time.monotonic()
    per_shard = [rows // shards + (1 if i < rows % shards else 0) for i in range(shards)]
    counter = run_counter(shards, what="generated shard", unit="shards")
    for i, n in enumerate(per_shard):
        path = os.path.join(data_dir, f"rows-{i:05d}-of-{shards:05d}.{ext}")
        (_write_tfrecord if fmt == "tfrecord" else _write_csv)(path, n, np.random.default_rng(i))
        counter.update(i + 1, f"{sum(per_shard[: i + 1]):,} rows")
    open(done, "w").close()
    print(f"generated {rows:,} rows in {time.monotonic() - start:,.1f} s", flush=True)
    return pattern


class MemorySampler(threading.Thread):
    """Samples the resident memory of this process plus all its descendants (Beam workers)."""

    def __init__(self, every: float = 0.25):
        super().__init__(daemon=True)
        self.every = every
        self.samples: list[tuple[float, float, int]] = []  # (seconds, bytes, processes)
        self._halt = threading.Event()
        self._start = time.monotonic()

    def run(self) -> None:
        me = psutil.Process()
        while not self._halt.is_set():
            total, count = 0, 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                    count += 1
                except psutil.Error:
                    pass
            self.samples.append((time.monotonic() - self._start, total, count))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    @property
    def peak(self) -> float:
        return max((b for _, b, _ in self.samples), default=0)


def _plot(samples, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot([s for s, _, _ in samples], [b / 2**30 for _, b, _ in samples])
    ax.axhline(4, color="red", linestyle="--", label="4 GB target")
    ax.set(xlabel="seconds", ylabel="RSS, GiB (process + workers)", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str]) -> None:
    del argv
    out = os.path.abspath(FLAGS.out)
    pattern = generate(os.path.join(out, "data"), FLAGS.rows, FLAGS.shards, FLAGS.format)
    artifacts = os.path.join(out, "artifacts")
    config = ValidationConfig(
        data=(pattern,),
        artifacts_dir=artifacts,
        span=0,
        label=None,
        semantic_domain_stats=FLAGS.semantic_domain_stats,
        runner=RunnerOptions(
            direct_running_mode=FLAGS.direct_running_mode, direct_num_workers=FLAGS.direct_num_workers
        ),
        progress_every_rows=100_000,
    )
    sampler = MemorySampler()
    sampler.start()
    start = time.monotonic()
    result = gate.run_gate(config)
    seconds = time.monotonic() - start
    sampler.stop()
    rows = result.num_examples["data"]
    figures = {
        "rows": rows,
        "features": NUM_FLOAT + NUM_INT + NUM_CAT,
        "format": FLAGS.format,
        "shards": FLAGS.shards,
        "runner": f"DirectRunner {FLAGS.direct_running_mode}",
        "workers": FLAGS.direct_num_workers or os.cpu_count(),
        "seconds": round(seconds, 1),
        "rows_per_sec": round(rows / seconds),
        "peak_memory_gb": round(sampler.peak / 1e9, 2),
        "peak_processes": max((c for _, _, c in sampler.samples), default=1),
        "target_met": seconds <= 120 and sampler.peak < 4e9,
        "cpus": os.cpu_count(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "machine": platform.platform(),
        "clean": result.clean,
    }
    print(f"\n{'metric':<24}{'value':>16}")
    for key in ("rows", "features", "seconds", "rows_per_sec", "peak_memory_gb", "peak_processes", "target_met"):
        print(f"{key:<24}{figures[key]!s:>16}")
    with open(os.path.join(out, "benchmark.json"), "w") as f:
        json.dump(figures, f, indent=2)
    _plot(sampler.samples, os.path.join(out, "memory.png"), f"{rows:,} rows: {seconds:.0f} s")
    print(f"wrote {os.path.join(out, 'benchmark.json')} and memory.png", flush=True)


if __name__ == "__main__":
    cli.run(main)
