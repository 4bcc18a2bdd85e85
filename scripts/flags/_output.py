"""Output flags: the model_dir and how often checkpoints and summaries are written."""

from __future__ import annotations

from absl import flags

from common.params import CheckpointPolicy, OutputParams
from scripts.flags.core import FLAGS, record_from_flags

_O = OutputParams()


def define_output_flags() -> None:
    policy = _O.checkpoints
    flags.DEFINE_string("model_dir", _O.model_dir, "Checkpoints, summaries and exports (local path or gs://).")
    flags.DEFINE_boolean("overwrite_model_dir", _O.overwrite_model_dir, "Start afresh: delete --model_dir first.")
    flags.DEFINE_integer(
        "save_checkpoints_steps", policy.save_checkpoints_steps, "Steps between checkpoints.", lower_bound=1
    )
    flags.DEFINE_integer("save_summary_steps", policy.save_summary_steps, "Steps between summaries.", lower_bound=1)
    flags.DEFINE_integer("keep_checkpoint_max", policy.keep_checkpoint_max, "Checkpoints to keep.", lower_bound=1)


def output_params() -> OutputParams:
    # The step-rate log follows the progress lines (training group) when that group is defined.
    every = FLAGS["progress_every_steps"].value if "progress_every_steps" in FLAGS else None
    policy = record_from_flags(CheckpointPolicy, **({"log_step_count_steps": every} if every else {}))
    return record_from_flags(OutputParams, checkpoints=policy)
