"""How near the fp32 peak kestrel computes: matmul peak, model FLOPs, and FLOP/s of inference and training.

python -m scripts.benchmark_compute --out_dir=/tmp/kestrel/compute

VGG16 at 160x160 (weights=none), batch 32 by default: a bare tf.function forward and kestrel's bottleneck
feature extraction, a bare tf.function training step and kestrel's Estimator engine, each as FLOP/s and a
fraction of a 4096x4096 fp32 matmul measured in the same run (benchmarks/compute.py). Prints a table,
writes compute.json and compute.png to --out_dir.
"""

from __future__ import annotations

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
from absl import flags

from benchmarks import compute
from common.errors import UsageError
from pipeline.filesystem import ensure_writable_dir
from scripts.flags.core import record_from_flags

flags.DEFINE_string("out_dir", "/tmp/kestrel/compute", "Where compute.json and compute.png go.")
flags.DEFINE_string("data_dir", None, "TFDS data_dir (digits is prepared there if missing).")
flags.DEFINE_list("models", ["vgg16"], "Models to measure (vgg16, mobilenet_v2, nasnet_mobile, small_cnn, ...).")
flags.DEFINE_integer("image_size", 160, "Square input size of the models.", lower_bound=8, upper_bound=1024)
flags.DEFINE_integer("batch_size", 32, "Batch size of every pass and step.", lower_bound=1, upper_bound=4096)
flags.DEFINE_integer(
    "matmul_size", 4096, "N of the NxN fp32 matmul that sets the peak.", lower_bound=16, upper_bound=16384
)
flags.DEFINE_integer("matmul_repeats", 5, "Timed matmuls (after a warm-up); the best counts.", lower_bound=1)
flags.DEFINE_integer("forward_batches", 4, "Batches in each timed inference pass.", lower_bound=1)
flags.DEFINE_integer("train_warmup_steps", 2, "Untimed training steps first.", lower_bound=1)
flags.DEFINE_integer("train_steps", 4, "Timed training steps.", lower_bound=2)
flags.DEFINE_integer("repeats", 2, "Round-robin rounds of each comparison; the best counts.", lower_bound=1)
FLAGS = flags.FLAGS

# digits' train split: the inference passes read train[:batch x forward_batches].
_TRAIN_EXAMPLES = 1437


def main(argv: list[str]) -> None:
    del argv
    from estimators.models import registry

    ensure_writable_dir(FLAGS.out_dir, "out_dir")
    unknown = [name for name in FLAGS.models if name not in registry.MODELS]
    if unknown:
        raise UsageError("models", f"unknown model '{unknown[0]}'; allowed: {', '.join(registry.MODELS)}")
    if FLAGS.batch_size * FLAGS.forward_batches > _TRAIN_EXAMPLES:
        raise UsageError(
            "forward_batches", f"batch_size x forward_batches must be at most {_TRAIN_EXAMPLES} (digits' train split)"
        )
    cfg = record_from_flags(compute.Config, models=tuple(FLAGS.models))
    result = compute.run(cfg, echo=print)
    print()
    print(compute.format_table(result))
    load = result["machine"]["load_average"]
    print(f"load average {result['load_average_before'][0]:.2f} at the start, {load[0]:.2f} at the end")
    print(f"wrote {result['files']['json']} and {result['files']['png']}")


if __name__ == "__main__":
    cli.run(main)
