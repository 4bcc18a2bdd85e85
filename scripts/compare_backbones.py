"""Compare frozen-base heads on many backbones, each with its own preprocessing; fine-tune the best.

python -m scripts.compare_backbones --backbones=mobilenet_v2,vgg16,nasnet_mobile --weights=none \
  --image_size=32 --epochs=3 --out_dir=runs/compare

Each backbone's head trains on its cached features (the bottleneck cache) through the training
flow, in a child process of its own (its peak memory, and a crash stays its own); the ranked
table (parameters, validation and test accuracy, feature-extraction time, epoch time, peak
memory) is printed and written to --out_dir as ranking.txt/.csv/.json with ranking.png.
Rerun with the same --out_dir to continue a killed comparison: finished backbones are skipped.
"""

from __future__ import annotations

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
from absl import flags

from scripts.flags import _comparison

for _group in _comparison.define_comparison_flags():
    flags.adopt_module_key_flags(_group)


def main(argv: list[str]) -> None:
    del argv
    config = _comparison.comparison_config()  # an unknown backbone fails here, before TensorFlow loads
    from pipeline.comparison import runner

    runner.compare(config, lambda line: print(line, flush=True))


if __name__ == "__main__":
    cli.run(main)
