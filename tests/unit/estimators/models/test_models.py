"""Model builders return compiled Keras models with named inputs."""

import numpy as np
import pytest
import tensorflow as tf

from common.errors import UsageError
from estimators.models import build_model
from estimators.models.spec import ModelSpec
from input_fns.preprocessing import ImageSpec

pytestmark = pytest.mark.medium


def test_small_cnn_shape_names_and_optimizer():
    model = build_model("small_cnn", ModelSpec(image=ImageSpec(8, 8, 1), num_classes=10))
    assert model.input_names == ["image"]
    assert model.output_shape == (None, 10)
    # model_to_estimator accepts only the legacy optimizers.
    assert isinstance(model.optimizer, tf.keras.optimizers.legacy.Optimizer)
    probs = model.predict(np.zeros((2, 8, 8, 1), np.float32), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_unknown_model_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown model .resnet9.; allowed: .*small_cnn"):
        build_model("resnet9", ModelSpec(image=ImageSpec(8, 8, 1), num_classes=10))
