"""What a classification run imports before its first step: only what it uses.

TF-Hub, TF-GAN and pycocotools serve other models and tasks; each costs start-up time that users
wait through before the first step (docs/benchmarks.md, section 10). ``-X importtime`` names every
module the run imported.
"""

from __future__ import annotations

import pytest
from support import imported_top_level, train

pytestmark = pytest.mark.medium

OTHER_TASKS_AND_MODELS = ("tensorflow_hub", "tensorflow_gan", "pycocotools")


def test_a_classification_run_imports_no_other_models_libraries(tmp_path, tfds_data_dir):
    args = ("--train_steps=2", "--noreport", "--novalidate_data")
    run = train(tfds_data_dir, tmp_path / "model", *args, python_args=("-X", "importtime"))
    assert run.returncode == 0, run.stderr[-2000:]
    imported = imported_top_level(run.stderr)
    assert "tensorflow_datasets" in imported  # the log was read: digits come from TFDS
    assert not imported & set(OTHER_TASKS_AND_MODELS), sorted(imported & set(OTHER_TASKS_AND_MODELS))
