"""Output flags: the model_dir, how often checkpoints and summaries are written, and a TFLite copy.

On Vertex AI a custom job with a ``baseOutputDirectory`` tells the trainer where to write through
environment variables: ``AIP_CHECKPOINT_DIR`` (checkpoints), ``AIP_MODEL_DIR`` (the SavedModel that
Vertex imports, ``saved_model.pb`` at its root) and ``AIP_TENSORBOARD_LOG_DIR``. A flag given on the
command line (or in a --flagfile) wins over its variable.
"""

from __future__ import annotations

import dataclasses
import os

from absl import flags

from common.names import TFLITE_EXTENSION, tflite_files
from common.params import CheckpointPolicy, OutputParams
from scripts.flags.core import FLAGS, record_from_flags

_O = OutputParams()
AIP_CHECKPOINT_DIR = "AIP_CHECKPOINT_DIR"
AIP_MODEL_DIR = "AIP_MODEL_DIR"
AIP_TENSORBOARD_LOG_DIR = "AIP_TENSORBOARD_LOG_DIR"
# Bytes 4-8 of every TFLite flatbuffer (its schema's file_identifier): how a file kestrel may replace is told apart.
TFLITE_IDENTIFIER = b"TFL3"
_MAX_NAME_BYTES = 255  # a file name's limit on ext4, XFS, APFS and NTFS


@dataclasses.dataclass(frozen=True)
class VertexDirs:
    """The AIP_ directories set in the environment (None: not set, or a flag won)."""

    checkpoint_dir: str | None = None  # becomes --model_dir unless the flag is given
    model_dir: str | None = None  # the final serving export is copied here
    tensorboard_log_dir: str | None = None  # the run's TensorBoard event files are copied here

    def note(self) -> str | None:
        """One line naming the AIP_ variables used, or None when there are none."""
        used = []
        if self.checkpoint_dir:
            used.append(f"{AIP_CHECKPOINT_DIR} -> --model_dir={self.checkpoint_dir}")
        if self.model_dir:
            used.append(f"{AIP_MODEL_DIR} -> the final SavedModel is copied to {self.model_dir}")
        if self.tensorboard_log_dir:
            used.append(
                f"{AIP_TENSORBOARD_LOG_DIR} -> the TensorBoard event files are copied to {self.tensorboard_log_dir}"
            )
        return "Vertex AI: " + "; ".join(used) if used else None


def define_output_flags(tflite: bool = True) -> None:
    """``tflite``: define --tflite_output_file (scripts.retrain does not: it publishes by pushing blessed
    SavedModels, and a candidate's TFLite written on every run would not be the served model's)."""
    policy = _O.checkpoints
    flags.DEFINE_string(
        "model_dir",
        _O.model_dir,
        f"Checkpoints, summaries and exports (local path or gs://); default: ${AIP_CHECKPOINT_DIR} when set.",
    )
    flags.DEFINE_boolean("overwrite_model_dir", _O.overwrite_model_dir, "Start afresh: delete --model_dir first.")
    flags.DEFINE_integer(
        "save_checkpoints_steps", policy.save_checkpoints_steps, "Steps between checkpoints.", lower_bound=1
    )
    flags.DEFINE_integer("save_summary_steps", policy.save_summary_steps, "Steps between summaries.", lower_bound=1)
    flags.DEFINE_integer("keep_checkpoint_max", policy.keep_checkpoint_max, "Checkpoints to keep.", lower_bound=1)
    if not tflite:
        return
    flags.DEFINE_string(
        "tflite_output_file",
        _O.tflite_output_file,
        "Also write the final model as TensorFlow Lite: the float model at this path (ending in .tflite), "
        "<stem>_dynamic_range.tflite (int8 weights) and labels.txt beside it; empty: none.",
    )
    flags.register_validator("tflite_output_file", _tflite_path_ok)


def _tflite_path_ok(value: str) -> bool:
    """Refuse, before anything runs, a path the export could not write or would clobber.

    Existing files are replaced only when they are TFLite models (an earlier run's): a typo
    naming someone's data or a directory is refused. gs:// and other remote paths are
    checked when written.
    """
    if not value:
        return True
    problem = _tflite_name_problem(value)
    if problem is None and "://" not in value:
        problem = _tflite_files_problem(*tflite_files(value)) or _folder_problem(value)
    if problem:
        raise flags.ValidationError(problem)
    return True


def _tflite_name_problem(value: str) -> str | None:
    if not value.endswith(TFLITE_EXTENSION) or value == TFLITE_EXTENSION:
        return (
            f"must be a file name ending in {TFLITE_EXTENSION} (the dynamic-range model is written beside it "
            f"as <stem>_dynamic_range{TFLITE_EXTENSION})"
        )
    dynamic_name = os.path.basename(tflite_files(value)[1])
    if len(dynamic_name.encode()) > _MAX_NAME_BYTES:
        return (
            f"file name too long: '{dynamic_name[:40]}...' (the dynamic-range model's name) "
            f"would be over {_MAX_NAME_BYTES} bytes"
        )
    return None


def _tflite_files_problem(float_path: str, dynamic_path: str, labels_path: str) -> str | None:
    for path in (float_path, dynamic_path):
        if os.path.isdir(path):
            return f"'{path}' is a directory; give a file path such as {path}/model.tflite"
        if os.path.exists(path) and not _is_tflite(path):
            return (
                f"'{path}' exists and is not a TFLite model; only an earlier TFLite export is replaced: "
                "choose another path"
            )
    if os.path.isdir(labels_path):
        return f"'{labels_path}' (the labels file) is a directory; choose another folder"
    return None


def _folder_problem(value: str) -> str | None:
    folder = _nearest_existing(os.path.dirname(os.path.abspath(value)))
    if not os.path.isdir(folder):
        return f"'{folder}' is not a directory"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write in '{folder}' (permission denied)"
    return None


def _is_tflite(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(8)[4:8] == TFLITE_IDENTIFIER
    except OSError:
        return False


def _nearest_existing(folder: str) -> str:
    """``folder``, or its nearest ancestor that exists (the export creates the rest)."""
    while not os.path.exists(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder


def vertex_dirs() -> VertexDirs:
    """The AIP_ directories that apply: AIP_CHECKPOINT_DIR only when --model_dir was not given."""
    checkpoint_dir = None if FLAGS["model_dir"].present else _env_dir(AIP_CHECKPOINT_DIR)
    return VertexDirs(checkpoint_dir, _env_dir(AIP_MODEL_DIR), _env_dir(AIP_TENSORBOARD_LOG_DIR))


def _env_dir(name: str) -> str | None:
    # Vertex ends every AIP_ directory with '/'; an empty variable is unset.
    value = os.environ.get(name, "").strip().rstrip("/")
    return value or None


def output_params() -> OutputParams:
    # The step-rate log follows the progress lines (training group) when that group is defined.
    every = FLAGS["progress_every_steps"].value if "progress_every_steps" in FLAGS else None
    policy = record_from_flags(CheckpointPolicy, **({"log_step_count_steps": every} if every else {}))
    vertex = vertex_dirs()
    given = {"model_dir": vertex.checkpoint_dir} if vertex.checkpoint_dir else {}
    return record_from_flags(
        OutputParams,
        checkpoints=policy,
        publish_dir=vertex.model_dir,
        tensorboard_publish_dir=vertex.tensorboard_log_dir,
        **given,
    )
