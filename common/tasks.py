"""What a model is trained to do: the names every engine, export and report reads for a task.

One record per task. Engines choose the model on ``metric``, report
``metrics`` (as Keras names them) and read the prediction ``output``; the
flag layer lists the tasks from here. No TensorFlow import.
"""

from __future__ import annotations

import dataclasses

from common.errors import UsageError

CLASSIFICATION, REGRESSION, SEGMENTATION = "classification", "regression", "segmentation"


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    metric: str  # chooses the model: the best export and, by default, early stopping
    higher_is_better: bool
    metrics: tuple[str, ...]  # what the engines evaluate and report, the loss last
    output: str  # the model's output layer and the prediction key of engines and exports


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(CLASSIFICATION, "accuracy", True, ("accuracy", "loss"), "probabilities"),
        # Lecture 03's Boston-housing DNN: mean squared error loss, mean absolute error metric.
        Task(REGRESSION, "mae", False, ("mae", "loss"), "predictions"),
        # Deep Learning with Python ch. 9: per-pixel classes; the intersection over union decides.
        Task(SEGMENTATION, "mean_iou", True, ("mean_iou", "pixel_accuracy", "loss"), "probabilities"),
    )
}
# Every metric early stopping can watch, across tasks, and those where higher is better.
EARLY_STOPPING_METRICS = tuple(dict.fromkeys(m for task in TASKS.values() for m in task.metrics))
HIGHER_IS_BETTER = frozenset({"accuracy", "mean_iou", "pixel_accuracy"})


def get(name: str) -> Task:
    if name not in TASKS:
        raise UsageError("task", f"unknown task '{name}'; allowed: {', '.join(TASKS)}")
    return TASKS[name]
