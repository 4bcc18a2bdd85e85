"""Two-stage fine-tuning: stage 1 trains the head on a frozen base, stage 2 unfreezes the top of the base.

Stage 2 unfreezes from a named layer, or the top fraction of the base's
layers, and trains at a learning rate 10x lower (the notes' recipe) so the
pretrained features move slowly. BatchNormalization layers stay frozen, i.e.
in inference mode, as a small batch's statistics would wreck ImageNet's.
model_to_estimator fixes trainability when it converts, so under the
Estimator stage 2 is a second Estimator warm-started from stage 1's checkpoint.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from common.errors import UsageError
from estimators.models.spec import ModelSpec
from estimators.models.transfer import base_layers, freeze_base
from estimators.tasks.classification import compile_classifier


@dataclasses.dataclass(frozen=True)
class FineTune:
    steps: int  # stage-2 steps, on top of stage 1's
    from_layer: str | None = None
    top_fraction: float | None = None
    lr_factor: float = 0.1

    def __post_init__(self) -> None:
        if (self.from_layer is None) == (self.top_fraction is None):
            raise UsageError("fine_tune_from", "give exactly one of --fine_tune_from and --fine_tune_fraction")
        if self.top_fraction is not None and not 0.0 < self.top_fraction <= 1.0:
            raise UsageError("fine_tune_fraction", f"{self.top_fraction} is outside (0, 1]")


def stage2_spec(spec: ModelSpec, rule: FineTune) -> ModelSpec:
    return dataclasses.replace(spec, learning_rate=spec.learning_rate * rule.lr_factor)


def unfreeze(model: tf.keras.Model, rule: FineTune, spec: ModelSpec) -> tf.keras.Model:
    """Make the top of the base trainable (BatchNorm excepted) and recompile at stage 2's learning rate."""
    layers = base_layers(model)
    if rule.from_layer is not None:
        names = [layer.name for layer in layers]
        if rule.from_layer not in names:
            sample = ", ".join(names[-3:])
            raise UsageError(
                "fine_tune_from", f"no layer '{rule.from_layer}' in the base of '{model.name}' (its last: {sample})"
            )
        start = names.index(rule.from_layer)
    else:
        start = int(round(len(layers) * (1.0 - rule.top_fraction)))
    freeze_base(layers[:start], trainable=False)
    freeze_base(layers[start:], trainable=True)
    # Trainability is read when the model is compiled (and when model_to_estimator clones it).
    return compile_classifier(model, spec)


def trainable_base_layers(model: tf.keras.Model) -> list[str]:
    return [layer.name for layer in base_layers(model) if layer.trainable and layer.weights]
