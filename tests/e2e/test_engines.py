"""Every model builder trains 20 steps, evaluates and exports under both engines (and the canned Estimators)."""

import io
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from common.errors import UsageError
from common.names import SERVING_KEY
from common.params import CheckpointPolicy, DataParams, Hparams, ModelParams, OutputParams, TrainingParams
from estimators.serving import receivers as serving
from pipeline import train

pytestmark = pytest.mark.large

IMAGE_MODELS = ["small_cnn", "basic_cnn", "deep_cnn", "vgg16", "mobilenet_v2", "nasnet_mobile", "hub"]


def hparams(tfds_data_dir, model_dir, model, engine, hub_module=None, **training) -> Hparams:
    # The report (one more predict pass) is checked on the small models; the
    # backbones' graphs take long enough to build already.
    training.setdefault("report", model not in ("vgg16", "mobilenet_v2", "nasnet_mobile"))
    size = None if model in ("small_cnn", "dnn", "canned_dnn", "canned_wide_deep") else 32
    return Hparams(
        data=DataParams(data_dir=tfds_data_dir, image_size=size, test_split="test[:32]"),
        model=ModelParams(name=model, hub_handle=hub_module, hidden_units=(32,)),
        training=TrainingParams(
            batch_size=8, train_steps=20, eval_throttle_secs=0, progress_every_steps=10, engine=engine, **training
        ),
        output=OutputParams(
            model_dir=str(model_dir), checkpoints=CheckpointPolicy(save_checkpoints_steps=20, save_summary_steps=10)
        ),
    )


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def check_export(summary, tabular: bool = False) -> None:
    export = Path(summary.export_path)
    assert (export / "saved_model.pb").is_file()
    assert serving.read_labels(str(export)) == tuple(str(d) for d in range(10))
    signatures = tf.saved_model.load(str(export)).signatures
    if tabular:
        out = signatures[SERVING_KEY](pixels=tf.zeros([2, 64]))
    else:
        digits = np.random.default_rng(0).integers(0, 255, (2, 8, 8), dtype=np.uint8)
        out = signatures[SERVING_KEY](image_bytes=tf.constant([png(d) for d in digits]))
        float_in = signatures[serving.FLOAT_SIGNATURE].structured_input_signature[1]["images"]
        assert float_in.shape[1:] == summary_image_shape(summary)
    assert out["probabilities"].shape == (2, 10)
    assert out["class_names"].shape == (2,)


def summary_image_shape(summary):
    return tf.TensorShape([8, 8, 1]) if "small_cnn" in summary.model_dir else tf.TensorShape([32, 32, 3])


@pytest.mark.parametrize("engine", ["estimator", "keras"])
@pytest.mark.parametrize("model", IMAGE_MODELS)
def test_image_model_trains_evaluates_exports(model, engine, tfds_data_dir, hub_module, tmp_path):
    summary = train.run(hparams(tfds_data_dir, tmp_path / model, model, engine, hub_module))
    assert summary.global_step == 20
    assert 0.0 <= summary.accuracy <= 1.0 and np.isfinite(summary.loss)
    assert summary.engine == engine
    check_export(summary)
    if summary.report_dir:
        assert (Path(summary.report_dir) / "confusion_matrix.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "model,engine",
    [("dnn", "estimator"), ("dnn", "keras"), ("canned_dnn", "estimator"), ("canned_wide_deep", "estimator")],
)
def test_tabular_models_on_named_features(model, engine, tfds_data_dir, tmp_path):
    summary = train.run(hparams(tfds_data_dir, tmp_path / model, model, engine))
    assert summary.global_step == 20
    assert 0.0 <= summary.accuracy <= 1.0 and np.isfinite(summary.loss)
    check_export(summary, tabular=True)


def test_canned_estimator_under_keras_is_a_usage_error(tfds_data_dir, tmp_path):
    with pytest.raises(UsageError, match="--engine: 'canned_dnn' is a canned Estimator"):
        train.run(hparams(tfds_data_dir, tmp_path, "canned_dnn", "keras"))
