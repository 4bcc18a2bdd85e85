"""Benchmark input pipelines: naive, tuned, each knob alone, the ceilings, the Keras alternatives, synthetic.

The target benchmark (2,000 JPEGs of 300x300, decode, resize 224, augment, batch 32):

python -m scripts.benchmark_datasets --generate_images=2000 --image_dir=/tmp/kestrel/bench_images \\
    --image_size=224 --batch_size=32 --shuffle_buffer=256 --augment_hflip --augment_zoom=0.2 \\
    --augment_brightness=0.2 --augment_contrast=0.2 --out_dir=/tmp/kestrel/benchmark

Or a prepared TFDS dataset: --source=tfds --dataset=rock_paper_scissors --train_split=train.
"""

from __future__ import annotations

import os
import shlex
import sys

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
from absl import flags

from benchmarks import dataset_benchmark as benchmark
from common.errors import UsageError
from input_fns import image_folder
from input_fns.preprocessing import ImageSpec
from scripts.flags import _data
from scripts.flags.core import record_from_flags

_data.define_data_flags()
flags.adopt_module_key_flags(_data)
flags.DEFINE_integer("batch_size", 32, "Batch size of every variant.", lower_bound=1)
flags.DEFINE_integer("epochs", 1, "Epochs each run reads (the cache only pays from the second).", lower_bound=1)
flags.DEFINE_integer("repeats", 3, "Runs per variant, round-robin; the best one counts.", lower_bound=1)
flags.DEFINE_list("variants", list(benchmark.VARIANTS), f"Variants to run, from {', '.join(benchmark.VARIANTS)}.")
flags.DEFINE_string("out_dir", "/tmp/kestrel/benchmark", "Where benchmark.json, .csv and .png go.")
flags.DEFINE_integer(
    "generate_images", 0, "Write this many 300x300 JPEGs to --image_dir first, if it has no images yet.", lower_bound=0
)
FLAGS = flags.FLAGS


def _workload(data, image_size: int):
    spec = ImageSpec(image_size, image_size, 3, "unit")
    if data.source == "image_folder" or (data.source == "tfds" and data.image_dir):
        if not data.image_dir:
            raise UsageError("image_dir", "not set; the image folder to benchmark")
        return benchmark.image_folder_workload(data.image_dir, spec)
    if data.source == "tfds":
        from input_fns import tfds_source

        builder = tfds_source.load_builder(data.dataset, data.data_dir, data.download)
        return benchmark.tfds_workload(builder, data.train_split, spec)
    raise UsageError("source", f"'{data.source}': the benchmark takes image_folder or tfds")


def main(argv: list[str]) -> None:
    del argv
    unknown = sorted(set(FLAGS.variants) - set(benchmark.VARIANTS))
    if unknown:
        raise UsageError("variants", f"unknown {unknown}; allowed: {', '.join(benchmark.VARIANTS)}")
    data = _data_params()
    if FLAGS.generate_images:
        if not data.image_dir:
            raise UsageError("image_dir", "needed with --generate_images: where to write the images")
        if not _has_images(data.image_dir):
            print(f"writing {FLAGS.generate_images} JPEGs of 300x300 to {data.image_dir} ...", flush=True)
            benchmark.write_benchmark_images(data.image_dir, FLAGS.generate_images)
    workload = _workload(data, data.image_size or 224)
    cfg = record_from_flags(
        benchmark.BenchmarkConfig,
        shuffle_buffer=data.shuffle_buffer,
        augment=data.augment,
        variants=tuple(FLAGS.variants),
        seed=0,
    )
    print(
        f"{workload.name}: {workload.num_examples} examples, {cfg.epochs} epoch(s), batch {cfg.batch_size}, "
        f"{cfg.repeats} run(s) per variant, {os.cpu_count()} CPUs",
        flush=True,
    )
    results = benchmark.run(workload, cfg, progress=lambda line: print(line, flush=True))
    print(benchmark.format_table(results), flush=True)
    command = "python -m scripts.benchmark_datasets " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    paths = benchmark.write_outputs(results, workload, cfg, FLAGS.out_dir, command)
    print("\n".join(f"{kind:<5} {path}" for kind, path in paths.items()), flush=True)


def _data_params():
    """The data flags this script reads (hparams_from_flags needs every group, and this defines one)."""
    from common.params import DataParams

    f = FLAGS
    return DataParams(
        dataset=f.dataset,
        data_dir=f.data_dir,
        download=f.download,
        train_split=f.train_split,
        image_size=f.image_size,
        shuffle_buffer=f.shuffle_buffer,
        source=f.source,
        image_dir=f.image_dir,
        augment=_data.augment_params(),
    )


def _has_images(root: str) -> bool:
    try:
        image_folder.scan(root)
    except UsageError:
        return False
    return True


if __name__ == "__main__":
    cli.run(main)
