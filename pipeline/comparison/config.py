"""What a backbone comparison runs: the backbones, the settings they share, and their fingerprint.

No TensorFlow here: the flag layer builds a ``ComparisonConfig`` and refuses an unknown backbone
before anything loads.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping

from common.errors import UsageError
from common.params import Hparams
from estimators.models.registry import MODELS

ALL = "all"
# The hub model is a base only once --hub_handle names a module: it is not a Keras application to compare.
NOT_COMPARED = frozenset({"hub"})
RUNS_DIR = "runs"  # <out_dir>/runs/<backbone>: each head's model_dir
FINE_TUNE_DIR = "fine_tune"  # <out_dir>/fine_tune/<backbone>: each fine-tuning's model_dir


def comparable_backbones() -> tuple[str, ...]:
    """Every registry model with a pretrained (frozen) base, in the registry's order: what ``all`` means."""
    return tuple(name for name, entry in MODELS.items() if entry.pretrained_base and name not in NOT_COMPARED)


def select_backbones(names: list[str]) -> tuple[tuple[str, ...], bool]:
    """(backbones, chosen by ``all``) for the --backbones list; an unknown or repeated name is a usage error."""
    names = [n.strip() for n in names if n.strip()]
    allowed = comparable_backbones()
    if names == [ALL]:
        return allowed, True
    if not names:
        raise UsageError("backbones", f"empty; allowed: {ALL}, or a comma list of {', '.join(allowed)}")
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise UsageError("backbones", f"unknown backbone {', '.join(unknown)}; allowed: {ALL}, or {', '.join(allowed)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError("backbones", f"{', '.join(repeated)} named more than once")
    return tuple(names), False


@dataclasses.dataclass(frozen=True)
class ComparisonConfig:
    backbones: tuple[str, ...]
    # Chosen by ``all``: a backbone the image size does not fit is skipped (and named), not refused.
    chose_all: bool
    # The settings every run shares; model.name, model.fine_tune_steps, training.train_steps and
    # output.model_dir are set per run (runner.head_hparams, runner.fine_tune_hparams).
    hparams: Hparams
    epochs: int | None  # head epochs over the train role; None: --train_steps
    fine_tune_top: int  # fine-tune the best N heads (by validation accuracy) afterwards; 0: none
    out_dir: str

    def __post_init__(self) -> None:
        if "://" in self.out_dir:
            raise UsageError("out_dir", f"'{self.out_dir}' is remote; allowed: a local directory")
        model = self.hparams.model
        if self.fine_tune_top and model.fine_tune_steps <= 0:
            raise UsageError("fine_tune_top", "needs --fine_tune_steps above 0: the steps of each fine-tuning")
        if self.fine_tune_top and model.fine_tune_from:
            raise UsageError(
                "fine_tune_from", "names a layer of one backbone; a comparison fine-tunes by --fine_tune_fraction"
            )
        if self.fine_tune_top and model.fine_tune_fraction is None:
            raise UsageError(
                "fine_tune_fraction", "needed with --fine_tune_top: the top fraction of each base to train"
            )

    def run_dir(self, backbone: str, fine_tune: bool = False) -> str:
        return os.path.join(self.out_dir, FINE_TUNE_DIR if fine_tune else RUNS_DIR, backbone)

    def fingerprint(self) -> dict[str, object]:
        """Every setting the figures depend on, flattened (``data.image_size``): equal for runs that may be mixed.

        The backbone list and the fine-tuning are not in it: a rerun may add backbones or ask for fine-tuning.
        """
        settings = dataclasses.asdict(self.hparams)
        for per_run in ("output", "gate"):
            settings.pop(per_run)
        settings["model"].pop("name")
        settings["epochs"] = self.epochs
        return {k: v for k, v in _flatten(settings).items() if k not in self.fine_tune_settings()}

    def fine_tune_settings(self) -> dict[str, object]:
        """The settings only the fine-tunings depend on (model.fine_tune_*)."""
        model = dataclasses.asdict(self.hparams.model)
        return {f"model.{k}": v for k, v in model.items() if k.startswith("fine_tune_")}


def _flatten(tree: Mapping, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def record_from_dict(cls, data: Mapping):
    """The dataclass ``cls`` from ``dataclasses.asdict`` output (JSON-decoded): nested records and tuples restored."""
    hints = typing.get_type_hints(cls)
    values = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            continue
        value, kind = data[field.name], hints[field.name]
        if dataclasses.is_dataclass(kind) and isinstance(value, Mapping):
            value = record_from_dict(kind, value)
        elif typing.get_origin(kind) is tuple and isinstance(value, list):
            value = tuple(value)
        values[field.name] = value
    return cls(**values)
