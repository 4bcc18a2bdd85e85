"""Benchmark the bottleneck cache: head training on a frozen base, with and without cached features.

python -m scripts.bottleneck_benchmark --model=vgg16 --image_size=64 --epochs=3 --pretrain_steps=100 \
  --learning_rate=0.003 --l2=0 --dropout=0 --out_dir=runs/bottleneck_benchmark

Flags and main only: the benchmark (both runs, the table, benchmark.json and the per-epoch PNG in
--out_dir) is benchmarks/bottleneck_cache.py.
"""

from __future__ import annotations

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
from absl import flags

from benchmarks import bottleneck_cache
from scripts.flags.core import record_from_flags

flags.DEFINE_enum("model", "vgg16", ["vgg16", "mobilenet_v2", "nasnet_mobile"], "Frozen backbone.")
flags.DEFINE_string("weights", "none", "imagenet, none or a local weights file (as --weights of train.py).")
flags.DEFINE_string("dataset", "digits", "TFDS dataset (prepared in --data_dir; digits prepares itself).")
flags.DEFINE_string("data_dir", None, "TFDS data directory.")
flags.DEFINE_string("train_split", "train", "Split the head trains on.")
flags.DEFINE_string("eval_split", "test", "Split accuracy is measured on.")
flags.DEFINE_integer("image_size", 160, "Square input size.", lower_bound=32)
flags.DEFINE_integer("epochs", 3, "Epochs for each of the two runs.", lower_bound=2)
flags.DEFINE_integer("batch_size", 32, "Batch size.", lower_bound=1)
flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.", lower_bound=1e-12, upper_bound=10.0)
flags.DEFINE_float("dropout", 0.5, "Head dropout (the notes' recipe: 0.5).", lower_bound=0.0, upper_bound=0.99)
flags.DEFINE_float(
    "l2",
    0.01,
    "L2 on the head's kernel (the notes' recipe: 0.01; use 0 on a random base's tiny features).",
    lower_bound=0.0,
    upper_bound=1e3,
)
flags.DEFINE_integer(
    "pretrain_steps",
    0,
    "Train the whole backbone (with a softmax top) this many steps on --train_split first, save its base's "
    "weights to <out_dir>/pretrained_base.h5 and benchmark on that base: features that carry signal without "
    "network (0: the base of --weights as it is).",
    lower_bound=0,
)
flags.DEFINE_integer(
    "pretrain_image_size",
    None,
    "Input size of the pretraining (default: --image_size). The weights fit any size, but a base trained at "
    "32x32 gave weak features at 160x160 (digits 5x larger than it learned them).",
    lower_bound=32,
)
flags.DEFINE_float(
    "pretrain_learning_rate", 1e-4, "Adam learning rate of the pretraining.", lower_bound=1e-12, upper_bound=10.0
)
flags.DEFINE_integer("seed", 42, "Seed for the head's initial weights and the batch order.")
flags.DEFINE_string("out_dir", "/tmp/kestrel/bottleneck_benchmark", "benchmark.json, the PNG and the feature cache.")
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    del argv
    cfg = record_from_flags(bottleneck_cache.Config)
    bottleneck_cache.run(cfg)


if __name__ == "__main__":
    cli.run(main)
