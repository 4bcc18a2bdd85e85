"""Each task's head, loss, metrics and serving outputs on a tiny model: the names its record gives them."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from common import tasks
from estimators import tasks as plugins
from estimators.models.spec import ModelSpec
from estimators.tasks.base import TaskPlugin
from input_fns.timeseries_source import SeriesSpec

CLASSES = ("cat", "dog", "owl")
_SERIES = SeriesSpec(("a", "b"), "b", "t", 4, 1, 1, 600.0, mean=(0.0, 10.0), std=(1.0, 2.0))


def _tiny(name: str) -> tuple[tf.keras.Model, np.ndarray, np.ndarray]:
    """A compiled one-layer model of task ``name``, and 6 examples with labels of the kind the task reads."""
    rng = np.random.default_rng(0)
    if name == tasks.SEGMENTATION:
        spec, shape = ModelSpec(None, len(CLASSES), task=name), (8, 8, 1)
        labels = rng.integers(0, len(CLASSES), (6, 8, 8, 1))
    elif name == tasks.DETECTION:
        from input_fns.detection import encode

        spec, shape = ModelSpec(None, len(CLASSES), task=name), (8, 8, 2)
        boxes = tf.constant([[0.1, 0.2, 0.5, 0.6], [0.3, 0.3, 0.9, 0.8]])
        labels = np.stack([encode(boxes, tf.constant([i % 3, 1]), 8, 8, len(CLASSES)).numpy() for i in range(6)])
    elif tasks.TASKS[name].labels == tasks.CLEAN_IMAGES:  # an image in, the clean image the label
        spec, shape = ModelSpec(None, 0, task=name), (16, 16, 3)
        labels = rng.uniform(size=(6, 16, 16, 3))
    elif name == tasks.FORECASTING:
        spec, shape = ModelSpec(None, 1, task=name, series=_SERIES), (4, 2)
        labels = rng.normal(10.0, 2.0, (6, 1))
    else:
        spec, shape = ModelSpec(None, len(CLASSES), task=name), (5,)
        labels = rng.integers(0, len(CLASSES), (6, 1)) if name == tasks.CLASSIFICATION else rng.normal(size=(6, 1))
    inputs = tf.keras.Input(shape=shape, name="x")
    x = tf.keras.layers.Flatten()(inputs) if name == tasks.FORECASTING else inputs
    model = plugins.compile_for_task(tf.keras.Model(inputs, plugins.task_head(x, spec)), spec)
    return model, rng.normal(size=(6, *shape)).astype(np.float32), labels


# The tasks with a head on one model (a GAN trains two models with its own engines: no head, no compile).
WITH_HEAD = [n for n in tasks.TASKS if type(plugins.load(n)).head is not TaskPlugin.head]


@pytest.mark.parametrize("name", WITH_HEAD)
def test_the_head_and_metrics_carry_the_records_names(name):
    task = tasks.TASKS[name]
    model, x, y = _tiny(name)
    assert model.output_names == [task.output]
    values = model.evaluate(x, y, verbose=0, return_dict=True)
    # The engines read exactly these: the chooser metric and the loss, by name.
    assert set(values) == set(task.metrics)
    assert task.metric in values


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        (tasks.CLASSIFICATION, {"probabilities", "class_ids", "class_names"}),
        (tasks.REGRESSION, {"predictions"}),
        (tasks.SEGMENTATION, {"probabilities", "mask"}),
        (tasks.FORECASTING, {"forecast"}),
        (tasks.DETECTION, {"grid", "boxes", "scores", "class_ids", "class_names", "num_detections"}),
        (tasks.SUPER_RESOLUTION, {"upscaled", "pixels"}),
        (tasks.DENOISING, {"denoised", "pixels"}),
    ],
)
def test_the_serving_outputs_of_each_task(name, keys):
    model, x, _ = _tiny(name)
    outputs = plugins.load(name).outputs(model(x), CLASSES)
    assert set(outputs) == keys
    if tasks.TASKS[name].predicts_value:
        assert outputs[tasks.TASKS[name].output].shape == (6,)  # one float per example
    if name == tasks.CLASSIFICATION:
        ids = outputs["class_ids"].numpy()
        assert [n.decode() for n in outputs["class_names"].numpy()] == [CLASSES[i] for i in ids]
    if name == tasks.SEGMENTATION:
        assert outputs["mask"].shape == (6, 8, 8) and outputs["mask"].dtype == tf.int32
    if name == tasks.DETECTION:  # a fixed number of boxes per image, after decoding and NMS in the graph
        assert outputs["boxes"].shape[0] == 6 and outputs["boxes"].shape[2] == 4
        assert outputs["class_names"].shape == outputs["scores"].shape == outputs["class_ids"].shape


def test_the_forecast_head_answers_in_the_targets_units():
    model, x, _ = _tiny(tasks.FORECASTING)
    model.get_layer("forecast_standardised").set_weights([np.zeros((8, 1)), np.zeros(1)])
    # A standardised 0 is the target's training mean (10), whatever the window.
    np.testing.assert_allclose(model(x).numpy(), 10.0)


def test_an_export_without_classes_has_no_labels_file():
    # values (regression, forecasting), images (restoration) and the GAN's generator, which takes noise
    no_labels = [n for n in tasks.TASKS if not plugins.load(n).tflite_labels]
    assert no_labels == [tasks.REGRESSION, tasks.FORECASTING, tasks.SUPER_RESOLUTION, tasks.DENOISING, tasks.GAN]
