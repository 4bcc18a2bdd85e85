"""Per-step overhead of mirrored over default on two logical CPU devices (small CNN, digits, Estimator).

python -m scripts.benchmark_distribution --data_dir=/tmp/tfds --output_dir=runs/bench_distribution

Prints a table, writes results.json and overhead.png to --output_dir.
"""

from __future__ import annotations

import dataclasses
import json
import os

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
from absl import flags

from benchmarks import distribution_model as distribution_benchmark
from common.progress import run_counter
from estimators.distribute import devices
from pipeline.filesystem import ensure_writable_dir
from scripts.flags._model import positive_ints

flags.DEFINE_string("data_dir", None, "TFDS data_dir (digits is prepared there if missing).")
flags.DEFINE_string("output_dir", "runs/bench_distribution", "Where results.json and overhead.png go.")
flags.DEFINE_list("batch_sizes", ["64", "512"], "Global batch sizes to measure.")
flags.register_validator("batch_sizes", positive_ints, "must be a comma-separated list of positive batch sizes")
flags.DEFINE_list("strategies", ["default", "mirrored"], "Strategies to compare; the first is the baseline.")
flags.DEFINE_integer("steps", 200, "Timed steps per measurement.", lower_bound=10)
flags.DEFINE_integer("warmup_steps", 30, "Untimed steps first.", lower_bound=1)
flags.DEFINE_integer("logical_cpu_devices", 2, "CPU devices mirrored over.", lower_bound=1)
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    del argv
    devices.configure_logical_cpus(FLAGS.logical_cpu_devices)
    ensure_writable_dir(FLAGS.output_dir, "output_dir")
    rows = []
    counter = run_counter(len(FLAGS.batch_sizes) * len(FLAGS.strategies))
    for batch in (int(b) for b in FLAGS.batch_sizes):
        for name in FLAGS.strategies:
            timing = distribution_benchmark.measure(name, batch, FLAGS.steps, FLAGS.warmup_steps, FLAGS.data_dir)
            rows.append(timing)
            counter.update(len(rows), f"{name} batch {batch}: {timing.median_ms:.2f} ms/step")

    baseline = {r.global_batch: r for r in rows if r.strategy == FLAGS.strategies[0]}
    header = (
        f"{'strategy':<10} {'replicas':>8} {'batch':>6} {'median ms':>10} {'p90 ms':>8} {'ex/sec':>9} {'overhead':>9}"
    )
    print(header)
    print("-" * len(header))
    results = []
    for r in rows:
        base = baseline[r.global_batch]
        overhead = r.median_ms - base.median_ms
        print(
            f"{r.strategy:<10} {r.replicas:>8} {r.global_batch:>6} {r.median_ms:>10.2f} {r.p90_ms:>8.2f} "
            f"{r.examples_per_sec:>9,.0f} {overhead:>+8.2f}ms"
        )
        results.append({**dataclasses.asdict(r), "examples_per_sec": r.examples_per_sec, "overhead_ms": overhead})
    with open(os.path.join(FLAGS.output_dir, "results.json"), "w") as f:
        record = {"logical_cpu_devices": FLAGS.logical_cpu_devices, "load_average": os.getloadavg(), "results": results}
        json.dump(record, f, indent=2)
    _plot(results, os.path.join(FLAGS.output_dir, "overhead.png"))
    # Other processes on the machine skew the figures: say how busy it was.
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"wrote {FLAGS.output_dir}/results.json and overhead.png")


def _plot(results: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches = sorted({r["global_batch"] for r in results})
    names = list(dict.fromkeys(r["strategy"] for r in results))
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, name in enumerate(names):
        ms = [
            next(r["median_ms"] for r in results if r["strategy"] == name and r["global_batch"] == b) for b in batches
        ]
        ax.bar([x + i * width for x in range(len(batches))], ms, width, label=name)
    ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(batches))], [str(b) for b in batches])
    ax.set_xlabel("global batch")
    ax.set_ylabel("median ms / step")
    ax.set_title("Estimator step time, 2 logical CPU devices")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    cli.run(main)
