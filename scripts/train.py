"""Train, evaluate and export an image classifier as an Estimator.

python -m scripts.train --dataset=digits --model=small_cnn --model_dir=/tmp/kestrel/digits
"""

from __future__ import annotations

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
from pipeline import train
from scripts import flag_groups

flag_groups.define_train_flags()
flag_groups.define_gate_flags()


def main(argv: list[str]) -> None:
    del argv
    hparams = flag_groups.hparams_from_flags().replace(gate=flag_groups.gate_params_from_flags())
    summary = train.run(hparams)
    print(summary.format(), flush=True)


if __name__ == "__main__":
    cli.run(main)
