"""The record every model builder takes. A builder's head and compile step are its task's (estimators/tasks)."""

from __future__ import annotations

import dataclasses

from common.tasks import CLASSIFICATION
from estimators.training.optimizers import OptimizerSpec
from input_fns.preprocessing import ImageSpec
from input_fns.timeseries_source import SeriesSpec

INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
WEIGHTS_NONE = "none"
WEIGHTS_IMAGENET = "imagenet"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything a builder needs: input, classes, optimiser settings and per-family options.

    Builders read only the fields their family uses: ``weights`` and
    ``trainable_base`` the transfer models, ``hub_handle`` the TF-Hub model,
    ``features`` and ``hidden_units`` the tabular DNN, ``augment`` the CNNs.
    """

    image: ImageSpec | None
    num_classes: int  # classification; a regression model has one output
    task: str = CLASSIFICATION  # common.tasks
    learning_rate: float = 1e-3
    dropout: float = 0.25
    input_name: str = INPUT_NAME
    optimizer: OptimizerSpec = OptimizerSpec()
    label_smoothing: float = 0.0
    # Transfer learning: "imagenet", "none" or a local weights file; the base stays frozen
    # unless trainable_base (for the Hub model, hub.KerasLayer's trainable switch).
    weights: str = WEIGHTS_NONE
    trainable_base: bool = False
    l2: float = 0.01
    hub_handle: str | None = None
    # Tabular: (feature name, width) for each input, in order.
    features: tuple[tuple[str, int], ...] = ()
    hidden_units: tuple[int, ...] = (128, 64)
    # CNNs: in-model augmentation ("none", "shift", "flip_shift"), active in training only.
    augment: str = "none"
    # Forecasting: the window (steps, columns) and the training part's statistics of each column.
    series: SeriesSpec | None = None
    recurrent_dropout: float = 0.0
    # Text: the training role's tokens, most frequent first; the model's TextVectorization layer holds them.
    vocabulary: tuple[str, ...] = ()
    # Super-resolution: the output is this many times the input's size (the source's upscale).
    scale: int = 1
