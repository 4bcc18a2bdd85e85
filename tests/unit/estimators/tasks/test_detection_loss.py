"""The detection loss (CenterNet's focal + L1) on targets the source encodes: it rewards the right grid."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from estimators.tasks.detection import CenterNetLoss
from input_fns.detection import encode

BOXES = tf.constant([[0.1, 0.2, 0.5, 0.6], [0.55, 0.05, 0.95, 0.45]])


def _target() -> tf.Tensor:
    return encode(BOXES, tf.constant([0, 2]), 16, 16, 3)[None]


def test_the_right_grid_costs_least():
    loss, target = CenterNetLoss(3), _target()
    perfect = float(loss(target, target))
    missed = float(loss(target, tf.zeros_like(target)))  # no object found: the focal term at each centre
    shifted = float(loss(target, tf.roll(target, shift=2, axis=1)))  # every heatmap two cells off
    assert perfect < 0.1 and missed > 5.0 and shifted > 1.0, (perfect, missed, shifted)


def test_the_box_error_counts_at_object_centres_only():
    loss, target = CenterNetLoss(3), _target()
    geometry = target.numpy()
    geometry[..., 3:] += 1.0  # every cell's offsets and sizes off by one
    everywhere = float(loss(target, tf.constant(geometry)))
    # Per object: 1 + 1 for the offsets, 0.1 + 0.1 for the sizes; nothing from the empty cells.
    np.testing.assert_allclose(everywhere - float(loss(target, target)), 2.2, atol=1e-4)
