"""The benchmark suite in one go: every benchmark in its own process, its table, JSON and chart.

python -m scripts.benchmark_suite --out_dir=runs/benchmark_suite

Training throughput (Estimator engine vs Keras engine vs a plain tf.function loop),
start-up of the default main job, the input pipeline, the bottleneck cache, mirrored
vs default, TFDV statistics; then the targets and the peak memory of each. --quick
runs every piece with tiny sizes (minutes, not the figures of docs/benchmarks.md).
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
from absl import flags

from benchmarks import suite
from common.errors import UsageError
from pipeline.filesystem import ensure_writable_dir

flags.DEFINE_string("out_dir", "runs/benchmark_suite", "Where each benchmark's outputs, suite.json and memory.png go.")
flags.DEFINE_string("data_dir", None, "TFDS data_dir (digits is prepared there); default: <out_dir>/tfds.")
flags.DEFINE_list("benchmarks", list(suite.BENCHMARKS), f"Benchmarks to run, from {', '.join(suite.BENCHMARKS)}.")
flags.DEFINE_boolean("quick", False, "Tiny sizes: checks that every piece runs; the figures mean nothing.")
flags.DEFINE_integer(
    "validation_rows", None, "Rows for the TFDV statistics benchmark (default 200,000; quick 2,000).", lower_bound=1
)
flags.DEFINE_integer(
    "repeats", None, "Rounds of the training-throughput runs (best counts); default 2, quick 1.", lower_bound=1
)
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    del argv
    unknown = sorted(set(FLAGS.benchmarks) - set(suite.BENCHMARKS))
    if unknown:
        raise UsageError("benchmarks", f"unknown {unknown}; allowed: {', '.join(suite.BENCHMARKS)}")
    ensure_writable_dir(FLAGS.out_dir, "out_dir")
    sizes = suite.QUICK if FLAGS.quick else suite.FULL
    if FLAGS.validation_rows is not None:
        sizes = dataclasses.replace(sizes, validation_rows=FLAGS.validation_rows)
    if FLAGS.repeats is not None:
        sizes = dataclasses.replace(sizes, throughput_repeats=FLAGS.repeats)
    command = "python -m scripts.benchmark_suite " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    config = suite.SuiteConfig(
        # Absolute: each benchmark runs in a child process from the repository root.
        out_dir=FLAGS.out_dir if "://" in FLAGS.out_dir else os.path.abspath(FLAGS.out_dir),
        data_dir=FLAGS.data_dir,
        sizes=sizes,
        benchmarks=tuple(FLAGS.benchmarks),
        command=command,
    )
    suite.run(config, say=lambda line: print(line, flush=True))


if __name__ == "__main__":
    cli.run(main)
