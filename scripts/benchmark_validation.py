"""Benchmark: TFDV statistics (the validation gate) on 1 vs 2 DirectRunner workers, same data, one run.

python -m scripts.benchmark_validation --rows=1000000 --workers=1,2 --repeats=2 --out=runs/benchmark_validation

Flags and main only: the benchmark is benchmarks/validation_runner.py (generated rows, each gate in
its own child process, its peak memory and CPU seconds, the table, benchmark.json and benchmark.png).
A child is this command again with the internal --run_one.
"""

from __future__ import annotations

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
import os
import sys

from absl import flags

from benchmarks import validation_runner
from common.errors import UsageError
from pipeline.validation.config import RUNNING_MODES
from scripts.flags.core import record_from_flags

flags.DEFINE_integer("rows", 1_000_000, "Rows to generate.", lower_bound=1)
flags.DEFINE_integer("shards", 8, "Files to write them into (parallelism is per file).", lower_bound=1)
flags.DEFINE_enum("format", "tfrecord", ["tfrecord", "csv"], "Input format.")
flags.DEFINE_string("out", "runs/benchmark_validation", "Generated data, artifacts, benchmark.json, benchmark.png.")
flags.DEFINE_enum("direct_running_mode", "multi_processing", RUNNING_MODES, "DirectRunner mode of every run.")
flags.DEFINE_list("workers", ["1", "2"], "Worker counts to compare (DirectRunner --direct_num_workers), in order.")
flags.DEFINE_list(
    "modes",
    [],
    "Compare DirectRunner modes instead of worker counts (in_memory,multi_processing,auto), one worker per core "
    "(in_memory: one); the whole gate's time counts, as the user waits for it.",
)
flags.DEFINE_integer(
    "direct_num_workers",
    0,
    "If > 0: measure only this worker count (instead of --workers).",
    lower_bound=0,
    upper_bound=64,
)
flags.DEFINE_integer(
    "repeats", 1, "Runs of each worker count, round-robin; the best counts.", lower_bound=1, upper_bound=20
)
flags.DEFINE_boolean("semantic_domain_stats", True, "Image/text statistics (as the gate runs by default).")
# Internal: a child process runs one gate with this many workers and writes its figures to --run_json.
flags.DEFINE_integer(
    "run_one", 0, "Internal: run one gate with this many workers (-1: one per core).", lower_bound=-1, upper_bound=64
)
flags.DEFINE_string("run_json", "", "Internal: where --run_one writes its figures.")
flags.DEFINE_string("run_data", "", "Internal: the glob of the generated files --run_one reads.")
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    del argv
    if FLAGS.run_one:
        if not (FLAGS.run_json and FLAGS.run_data):
            raise UsageError("run_one", "is internal: it needs --run_json and --run_data")
        validation_runner.run_one(
            FLAGS.run_data,
            max(0, FLAGS.run_one),
            os.path.abspath(FLAGS.out),
            FLAGS.run_json,
            FLAGS.direct_running_mode,
            FLAGS.semantic_domain_stats,
        )
        return
    cfg = record_from_flags(
        validation_runner.Config,
        main="scripts.benchmark_validation",
        workers=tuple(FLAGS.workers),
        modes=tuple(FLAGS.modes),
        command=" ".join(["python -m scripts.benchmark_validation", *sys.argv[1:]]),
    )
    validation_runner.run(cfg)


if __name__ == "__main__":
    cli.run(main)
