"""Blessing: may a candidate model replace the served one?

Two checks, both on the fixed holdout (the only set every model is measured on):
an absolute floor (a model below it is never served, even as the first one),
and no regression: the candidate may not be worse than the current blessed
model by more than ``margin``. The margin lets a model trained on newer data
through when it is about as good on old data -- what retraining is for.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class BlessingPolicy:
    metric: str = "accuracy"
    higher_is_better: bool = True
    floor: float = 0.8  # absolute: below this the candidate is never pushed
    margin: float = 0.02  # may be this much worse than the blessed model, no more


@dataclasses.dataclass(frozen=True)
class Blessing:
    blessed: bool
    reason: str


def decide(
    policy: BlessingPolicy,
    candidate: float | None,
    baseline: float | None,
    baseline_name: str = "the blessed model",
) -> Blessing:
    """Bless ``candidate`` (its holdout metric) against the floor and ``baseline`` (None: no blessed model yet)."""
    name = policy.metric
    if candidate is None:
        return Blessing(False, f"no holdout {name} to judge")
    sign = 1.0 if policy.higher_is_better else -1.0
    if sign * (candidate - policy.floor) < 0:
        relation = "below" if policy.higher_is_better else "above"
        return Blessing(False, f"holdout {name} {candidate:.4f} {relation} the floor {policy.floor:.4f}")
    if baseline is None:
        return Blessing(
            True, f"holdout {name} {candidate:.4f} clears the floor {policy.floor:.4f}; first blessed model"
        )
    change = sign * (candidate - baseline)
    if change < -policy.margin:
        return Blessing(
            False,
            f"holdout {name} {candidate:.4f} is {-change:.4f} worse than {baseline_name} ({baseline:.4f}); "
            f"margin {policy.margin:.4f}",
        )
    return Blessing(
        True,
        f"holdout {name} {candidate:.4f} vs {baseline_name} {baseline:.4f} "
        f"({change:+.4f}, margin {policy.margin:.4f}); floor {policy.floor:.4f}",
    )
