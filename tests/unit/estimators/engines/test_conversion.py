"""model_to_estimator, wrapped to predict class ids and names, trains and predicts."""

import numpy as np
import pytest
import tensorflow as tf

from estimators.engines import conversion
from estimators.models import build_model
from estimators.models.spec import ModelSpec
from input_fns import pipeline_ops, tfds_source
from input_fns.pipeline_ops import InputRequest
from input_fns.preprocessing import ImageSpec

pytestmark = pytest.mark.medium

SPEC = ModelSpec(image=ImageSpec(8, 8, 1), num_classes=10)
NAMES = tuple(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])


def test_estimator_trains_evaluates_and_predicts_names(digits_builder, tmp_path):
    config = conversion.make_run_config(str(tmp_path), conversion.CheckpointPolicy(save_checkpoints_steps=20), seed=0)
    estimator = conversion.with_serving_outputs(
        conversion.keras_to_estimator(build_model("small_cnn", SPEC), config), NAMES
    )
    assert isinstance(estimator, tf.estimator.Estimator)

    def input_fn(split, mode):
        return tfds_source.input_fn(digits_builder, split, InputRequest(mode, 32, "image", SPEC.image), seed=0)

    estimator.train(input_fn("train", pipeline_ops.FIT), max_steps=20)
    assert estimator.get_variable_value("global_step") == 20
    metrics = estimator.evaluate(input_fn("test", pipeline_ops.EVALUATE))
    assert {"accuracy", "loss", "global_step"} <= set(metrics)
    assert metrics["global_step"] == 20

    predictions = list(estimator.predict(input_fn("test[:5]", pipeline_ops.PREDICT)))
    assert len(predictions) == 5
    for p in predictions:
        assert p["probabilities"].shape == (10,)
        assert p["class_ids"] == np.argmax(p["probabilities"])
        assert p["class_names"].decode() == NAMES[p["class_ids"]]
