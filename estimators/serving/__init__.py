"""Serving: what an export takes (``Serving``), its receivers and signatures, the Keras export, prediction."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Serving:
    """What the export takes: encoded images (``image`` set) or named float features."""

    class_names: tuple[str, ...]
    input_name: str = "image"
    image: object | None = None  # input_fns.preprocessing.ImageSpec
    features: tuple[tuple[str, int], ...] = ()
    task: str = "classification"  # common.tasks: what the signatures return
    # (feature, mean, std) of the training rows: the export takes raw values and standardises them itself.
    scaling: tuple[tuple[str, float, float], ...] = ()
