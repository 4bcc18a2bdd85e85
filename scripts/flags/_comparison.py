"""Backbone-comparison flags (scripts/compare_backbones.py): which backbones, the head's epochs, fine-tuning, out_dir.

The data, model (less --model) and training groups are the training script's own; this group
adds what a comparison chooses, and its getter makes the ``ComparisonConfig``.
"""

from __future__ import annotations

import dataclasses
import sys

from absl import flags

from common.errors import UsageError
from common.params import Hparams, ModelParams
from pipeline.comparison.config import ALL, ComparisonConfig, select_backbones
from scripts.flags import _data, _model, _training
from scripts.flags.core import FLAGS, record_from_flags

GROUPS = (_data, _model, _training)
DEFAULT_EPOCHS = 3


def define_comparison_flags() -> tuple:
    """This group and the training groups a comparison shares; returns the modules, for --helpshort."""
    _data.define_data_flags()
    _model.define_model_flags(one_model=False)
    _training.define_training_flags()
    flags.DEFINE_list(
        "backbones", [ALL], f"Backbones to compare: a comma list of registry models with a pretrained base, or {ALL}."
    )
    flags.DEFINE_integer(
        "epochs",
        None,
        f"Head epochs over the train role (default {DEFAULT_EPOCHS}); or give --train_steps instead.",
        lower_bound=1,
    )
    flags.DEFINE_integer(
        "fine_tune_top",
        0,
        "After every head: fine-tune the best N (validation accuracy) with --fine_tune_steps, --fine_tune_fraction.",
        lower_bound=0,
    )
    flags.DEFINE_string("out_dir", "/tmp/kestrel/compare_backbones", "Runs, results.json (resume) and the ranking.")
    return (*GROUPS, sys.modules[__name__])


def comparison_config() -> ComparisonConfig:
    backbones, chose_all = select_backbones(FLAGS.backbones)
    if FLAGS["epochs"].present and FLAGS["train_steps"].present:
        raise UsageError("epochs", "give --epochs or --train_steps for the heads, not both")
    if FLAGS["bottleneck_cache"].present and not FLAGS.bottleneck_cache:
        raise UsageError("bottleneck_cache", "a comparison always trains the heads on cached features")
    if FLAGS.bottleneck_dir:
        raise UsageError("bottleneck_dir", "each backbone caches its features in its own run directory")
    epochs = None if FLAGS["train_steps"].present else (FLAGS.epochs or DEFAULT_EPOCHS)
    model = record_from_flags(ModelParams, {"augment": "cnn_augment"})
    hparams = Hparams(
        data=_data.data_params(),
        model=dataclasses.replace(model, name=backbones[0]),
        training=_training.training_params(),
    )
    return ComparisonConfig(backbones, chose_all, hparams, epochs, FLAGS.fine_tune_top, FLAGS.out_dir)
