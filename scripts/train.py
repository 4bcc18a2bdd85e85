"""Train, evaluate and export an image classifier as an Estimator.

python -m scripts.train --dataset=digits --model=small_cnn --model_dir=/tmp/kestrel/digits
"""

from __future__ import annotations

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
from absl import flags

from scripts.flags import _output
from scripts.flags import train as train_flags

for _group in train_flags.define_train_flags():
    flags.adopt_module_key_flags(_group)


def main(argv: list[str]) -> None:
    del argv
    with cli.imports_without_gc():
        from pipeline import train  # TensorFlow loads after the flags parse: a bad value fails at once

    vertex = _output.vertex_dirs()
    if vertex.note():
        print(vertex.note(), flush=True)
    summary = train.run(train_flags.hparams())
    print(summary.format(), flush=True)


if __name__ == "__main__":
    cli.run(main)
