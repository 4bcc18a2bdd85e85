"""An engine that trains only some tasks refuses the others from data (its ``trains``), with the same line."""

from __future__ import annotations

import pytest

from common import tasks
from common.errors import UsageError
from common.params import DistributionParams
from estimators.engines import Inputs, Job, get_engine
from estimators.models.spec import ModelSpec
from input_fns.preprocessing import ImageSpec


def _job(task: str, tmp_path) -> Job:
    spec = ModelSpec(ImageSpec(8, 8, 1), 3, task=task)
    inputs = Inputs(lambda *_: None, {}, "test")
    # --nouse_tpu: the TPUEstimator's model_fn on CPU, so that no TPU is looked for.
    return Job("small_cnn", spec, lambda: None, inputs, str(tmp_path), 1, 1, DistributionParams(use_tpu=False))


@pytest.mark.parametrize("task", [t for t in tasks.TASKS if t != tasks.CLASSIFICATION])
def test_tpu_estimator_refuses_every_task_but_classification(task, tmp_path):
    with pytest.raises(UsageError) as refused:
        get_engine("tpu_estimator").check(_job(task, tmp_path))
    assert str(refused.value) == "--task: tpu_estimator trains classification (use --engine=estimator)"


def test_tpu_estimator_takes_a_classifier(tmp_path):
    get_engine("tpu_estimator").check(_job(tasks.CLASSIFICATION, tmp_path))
