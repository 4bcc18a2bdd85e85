"""One run's figures, and the results file a comparison resumes from.

The file (<out_dir>/results.json) is rewritten atomically after every run, so a killed
comparison leaves it whole: every backbone in it with status ``ok`` is finished, any other
is redone. It holds the configuration's fingerprint; a rerun with other settings in the same
out_dir is refused rather than mixing figures. The fine-tuning settings are kept apart: a rerun
that fine-tunes with other ones redoes the fine-tunings, and keeps the heads.
"""

from __future__ import annotations

import dataclasses
import json
import os

from common.errors import UsageError

RESULTS_FILE = "results.json"
OK, FAILED, SKIPPED = "ok", "failed", "skipped"


@dataclasses.dataclass(frozen=True)
class RunFigures:
    """One run (a backbone's head, or its fine-tuning): what it scored, what it cost, and how it ended."""

    status: str  # OK, FAILED (reason: its error line) or SKIPPED (reason: why it was not run)
    reason: str = ""
    params_total: int | None = None
    params_trainable: int | None = None  # what this run trained: the head, or the head and the top of the base
    validation_accuracy: float | None = None  # of the model the validation role chose
    test_accuracy: float | None = None  # None: no test data
    preprocessing: str = ""  # the normalisation its inputs had (input_fns.preprocessing): the backbone's own
    extraction_seconds: float | None = None  # the frozen base's pass over every role (the bottleneck cache)
    extraction_examples: int | None = None
    epoch_seconds: float | None = None  # one epoch of the train role at the steady training rate
    train_seconds: float | None = None  # the engine's run, every stage: features extracted, trained, evaluated
    peak_rss_mb: float | None = None  # the run's process tree
    wall_seconds: float | None = None  # the whole child process, TensorFlow's start-up included
    model_dir: str = ""

    @property
    def finished(self) -> bool:
        return self.status == OK


@dataclasses.dataclass(frozen=True)
class BackboneResult:
    backbone: str
    head: RunFigures
    fine_tune: RunFigures | None = None


class ResultsFile:
    """<out_dir>/results.json: the fingerprint and every backbone's result so far."""

    def __init__(self, out_dir: str, fingerprint: dict[str, object], fine_tune: dict[str, object] | None):
        """``fine_tune``: the fine-tuning settings of this run, None when it fine-tunes nothing."""
        self.path = os.path.join(out_dir, RESULTS_FILE)
        self.fingerprint = fingerprint
        self.fine_tune = fine_tune
        self.results: dict[str, BackboneResult] = {}
        self.stale_fine_tunes: list[str] = []  # fine-tuned with other settings: redone

    def load(self) -> ResultsFile:
        """Read an earlier run's results; refuse them if its settings differ from this one's."""
        if not os.path.exists(self.path):
            return self
        try:
            with open(self.path) as f:
                saved = json.load(f)
            results = {name: _backbone_result(name, record) for name, record in saved["backbones"].items()}
            before = saved["fingerprint"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise UsageError(
                "out_dir", f"{self.path} is not a comparison's results file ({err}); use another --out_dir"
            ) from None
        changed = sorted(
            key for key in set(before) | set(self.fingerprint) if before.get(key) != self.fingerprint.get(key)
        )
        if changed:
            shown = "; ".join(f"{k}: {before.get(k)!r} then, {self.fingerprint.get(k)!r} now" for k in changed[:4])
            more = f" (and {len(changed) - 4} more)" if len(changed) > 4 else ""
            raise UsageError(
                "out_dir",
                f"{os.path.dirname(self.path)} holds a comparison with other settings ({shown}{more}); "
                "rerun with those settings to resume it, or use another --out_dir",
            )
        saved_fine_tune = saved.get("fine_tune")
        if self.fine_tune is None:
            self.fine_tune = saved_fine_tune
        elif saved_fine_tune != self.fine_tune:
            self.stale_fine_tunes = sorted(name for name, r in results.items() if r.fine_tune is not None)
            results = {name: dataclasses.replace(r, fine_tune=None) for name, r in results.items()}
        self.results = results
        return self

    def finished(self, backbone: str) -> bool:
        result = self.results.get(backbone)
        return result is not None and result.head.finished

    def record(self, result: BackboneResult) -> None:
        """Keep ``result`` and rewrite the file atomically (a kill leaves the previous whole file)."""
        self.results[result.backbone] = result
        record = {
            "fingerprint": self.fingerprint,
            "fine_tune": self.fine_tune,
            "backbones": {name: dataclasses.asdict(r) for name, r in self.results.items()},
        }
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = f"{self.path}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(record, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def _backbone_result(name: str, record: dict) -> BackboneResult:
    fine_tune = record.get("fine_tune")
    return BackboneResult(name, RunFigures(**record["head"]), RunFigures(**fine_tune) if fine_tune else None)
