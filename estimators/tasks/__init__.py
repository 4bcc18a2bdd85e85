"""Task plug-ins by name: ``load(task)`` imports the module its record in common/tasks.py names.

Adding a task is one module here (a ``TaskPlugin`` as ``PLUGIN``, see base.py)
and one record in common/tasks.py. Models, engines, exports and the run flow
ask the plug-in; none of them compares a task's name.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING

from common import tasks

if TYPE_CHECKING:
    import tensorflow as tf

    from estimators.models.spec import ModelSpec
    from estimators.tasks.base import TaskPlugin

# The plug-ins load() imports by their records' module names, named once more as "module:attribute" so that
# tools/gen_build.py makes each a Bazel dependency of this loader (tests/unit checks both lists agree).
PLUGINS = (
    "estimators.tasks.classification:PLUGIN",
    "estimators.tasks.regression:PLUGIN",
    "estimators.tasks.segmentation:PLUGIN",
    "estimators.tasks.forecasting:PLUGIN",
    "estimators.tasks.language_model:PLUGIN",
    "estimators.tasks.detection:PLUGIN",
    "estimators.tasks.text_classification:PLUGIN",
    "estimators.tasks.super_resolution:PLUGIN",
    "estimators.tasks.denoising:PLUGIN",
    "estimators.tasks.gan:PLUGIN",
)


def load(task: str | tasks.Task) -> TaskPlugin:
    """The plug-in of ``task`` (a name or its record); an unknown name is a usage error (common.tasks.get)."""
    record = tasks.get(task) if isinstance(task, str) else task
    return _plugin(record.module)


@functools.cache
def _plugin(module: str) -> TaskPlugin:
    return importlib.import_module(module).PLUGIN


def task_head(x: tf.Tensor, spec: ModelSpec, l2: float | None = None) -> tf.Tensor:
    """The output layer of ``spec.task``."""
    return load(spec.task).head(x, spec, l2)


def compile_for_task(model: tf.keras.Model, spec: ModelSpec) -> tf.keras.Model:
    """``model`` compiled with the loss and metrics of ``spec.task``, under the names common.tasks gives them."""
    return load(spec.task).compile(model, spec)
