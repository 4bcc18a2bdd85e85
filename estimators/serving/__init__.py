"""Serving: what an export takes (``Serving``), its receivers and signatures, the Keras export, prediction."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Serving:
    """What the export takes: encoded images (``image`` set), named float features, or a window (``series``)."""

    class_names: tuple[str, ...]
    input_name: str = "image"
    image: object | None = None  # input_fns.preprocessing.ImageSpec
    features: tuple[tuple[str, int], ...] = ()
    task: str = "classification"  # common.tasks: what the signatures return
    # (feature, mean, std) of the training rows: the export takes raw values and standardises them itself.
    scaling: tuple[tuple[str, float, float], ...] = ()
    # Forecasting: the window the export takes (input_fns.timeseries_source.SeriesSpec), raw values.
    series: object | None = None
    # Text: the export takes a batch of raw strings under this name (the model tokenises them); None: not text.
    text_input: str | None = None
