"""Early stopping: the rule (which validation metric, how many steps without improvement) both engines follow.

Each engine turns it into its own mechanism (the Estimator's stop hook, Keras's
EarlyStopping callback); the rule itself, its direction and its line are here.
"""

from __future__ import annotations

import dataclasses
from typing import TextIO

from common import tasks
from common.errors import UsageError
from common.params import EARLY_STOPPING_METRICS


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``metric`` on the eval split has not improved for ``max_steps_without_improvement``."""

    metric: str = "accuracy"
    max_steps_without_improvement: int = 1000
    min_steps: int = 0

    def __post_init__(self) -> None:
        if self.metric not in EARLY_STOPPING_METRICS:
            raise UsageError(
                "early_stopping_metric",
                f"unknown metric '{self.metric}'; allowed: {', '.join(EARLY_STOPPING_METRICS)}",
            )

    @property
    def higher_is_better(self) -> bool:
        return self.metric in tasks.HIGHER_IS_BETTER

    def check_task(self, task: tasks.Task) -> None:
        if self.metric not in task.metrics:
            raise UsageError(
                "early_stopping_metric",
                f"'{self.metric}' is not a {task.name} metric; allowed: {', '.join(task.metrics)}",
            )

    def announce(self, step: int, max_steps: int, stream: TextIO) -> None:
        """The line both engines print when this rule ends a run (their own logs say it at INFO, hidden).

        Not at max_steps: there the run ends anyway, and saying early stopping ended it would mislead.
        """
        if step >= max_steps:
            return
        print(
            f"early stopping at step {step}: validation {self.metric} has not improved "
            f"for {self.max_steps_without_improvement} steps",
            file=stream,
            flush=True,
        )
