"""Train, evaluate and export an image classifier as an Estimator.

    python -m scripts.train --dataset=digits --model=small_cnn --model_dir=/tmp/kestrel/digits
"""

from __future__ import annotations

from scripts import cli  # first: quiets TensorFlow before it is imported

import tensorflow as tf  # noqa: E402

from pipeline import train  # noqa: E402
from scripts import flag_groups  # noqa: E402

flag_groups.define_train_flags()


def main(argv: list[str]) -> None:
    del argv
    tf.get_logger().setLevel("ERROR")
    summary = train.run(flag_groups.hparams_from_flags())
    print(summary.format(), flush=True)


if __name__ == "__main__":
    cli.run(main)
