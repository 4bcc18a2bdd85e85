"""The Estimator's per-batch training summary for segmentation is the mean IoU its tag says, as Keras's
MeanIoU computes it, not pixel accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from common import tasks
from estimators.engines.conversion import batch_metric

pytestmark = pytest.mark.small


def test_the_batch_summary_is_kerass_mean_iou():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (2, 8, 8, 1))
    labels[labels == 2] = 1  # class 2 never labelled: it counts only where it is predicted
    probabilities = rng.random((2, 8, 8, 4)).astype(np.float32)  # class 3: neither labelled nor predicted
    probabilities[..., 3] = 0.0
    keras = tf.keras.metrics.MeanIoU(4, sparse_y_pred=False)
    keras.update_state(labels, probabilities)
    value = batch_metric(tasks.get(tasks.SEGMENTATION), tf.constant(labels), {"mask": tf.constant(probabilities)})
    accuracy = np.mean(np.argmax(probabilities, -1) == labels[..., 0])
    assert value.numpy() == pytest.approx(keras.result().numpy(), abs=1e-6)
    assert abs(value.numpy() - accuracy) > 0.05  # the two differ here: the test tells them apart
