"""The exported SavedModel serves PNG/JPEG bytes: class ids, names and probabilities."""

import io
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from common.names import ASSETS_EXTRA, LABELS_FILE, SERVING_KEY
from common.params import DataParams, Hparams, OutputParams, TrainingParams
from estimators.engines import conversion
from estimators.models import build_model
from estimators.models.spec import ModelSpec
from estimators.serving import receivers as serving
from input_fns import pipeline_ops, tfds_source
from input_fns.pipeline_ops import InputRequest
from input_fns.preprocessing import ImageSpec
from pipeline import train

pytestmark = pytest.mark.medium


def _test_images(builder, count):
    ds = builder.as_dataset(split=f"test[:{count}]", as_supervised=True)
    images, labels = zip(*tfds.as_numpy(ds), strict=True)
    return np.stack(images), np.array(labels)


def _encode(image: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0]).save(buffer, format=fmt)
    return buffer.getvalue()


def test_export_has_signature_and_labels(trained_digits):
    export = Path(trained_digits.export_path)
    assert (export / "saved_model.pb").is_file()
    assert (export / ASSETS_EXTRA / LABELS_FILE).read_text().split() == [str(d) for d in range(10)]
    signature = tf.saved_model.load(str(export)).signatures[SERVING_KEY]
    assert set(signature.structured_input_signature[1]) == {"image_bytes"}
    assert set(signature.structured_outputs) == {"probabilities", "class_ids", "class_names"}


def test_reloaded_model_predicts_png_files_like_the_estimator(trained_digits, digits_builder, tmp_path):
    images, labels = _test_images(digits_builder, 40)
    paths = []
    for i, image in enumerate(images):
        path = tmp_path / f"digit_{i}.png"
        path.write_bytes(_encode(image, "PNG"))
        paths.append(path)

    signature = tf.saved_model.load(trained_digits.export_path).signatures[SERVING_KEY]
    out = signature(image_bytes=tf.constant([p.read_bytes() for p in paths]))
    probs = out["probabilities"].numpy()
    assert probs.shape == (40, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    class_ids = out["class_ids"].numpy()
    assert [n.decode() for n in out["class_names"].numpy()] == [str(i) for i in class_ids]
    assert np.mean(class_ids == labels) > 0.8

    # The in-graph decoding must prepare images exactly as the training input_fn did.
    spec = ModelSpec(image=ImageSpec(8, 8, 1), num_classes=10)
    config = conversion.make_run_config(trained_digits.model_dir, conversion.CheckpointPolicy())
    estimator = conversion.keras_to_estimator(build_model("small_cnn", spec), config)
    input_fn = tfds_source.input_fn(
        digits_builder, "test[:40]", InputRequest(pipeline_ops.PREDICT, 40, "image", spec.image)
    )
    estimator_probs = np.stack([p["probabilities"] for p in estimator.predict(input_fn)])
    np.testing.assert_allclose(probs, estimator_probs, atol=1e-5)


def test_jpeg_bytes_are_served_too(trained_digits, digits_builder):
    images, _ = _test_images(digits_builder, 3)
    signature = tf.saved_model.load(trained_digits.export_path).signatures[SERVING_KEY]
    out = signature(image_bytes=tf.constant([_encode(image, "JPEG") for image in images]))
    assert out["class_ids"].shape == (3,)


@pytest.fixture(scope="module")
def keras_export(tfds_data_dir, tmp_path_factory) -> str:
    """The digits model trained a few steps by the Keras engine: its export (export_keras_model's signatures)."""
    hp = Hparams(
        data=DataParams(data_dir=tfds_data_dir),
        training=TrainingParams(
            train_steps=20, eval_throttle_secs=0, progress_every_steps=10, engine="keras", report=False
        ),
        output=OutputParams(model_dir=str(tmp_path_factory.mktemp("keras_model"))),
    )
    return train.run(hp).export_path


@pytest.mark.parametrize("engine", ["estimator", "keras"])
def test_an_empty_batch_serves_empty_outputs(engine, request):
    export = request.getfixturevalue("trained_digits").export_path if engine == "estimator" else None
    export = export or request.getfixturevalue("keras_export")
    signatures = tf.saved_model.load(export).signatures
    outputs = [
        signatures[SERVING_KEY](image_bytes=tf.constant([], tf.string)),
        signatures[serving.FLOAT_SIGNATURE](images=tf.zeros([0, 8, 8, 1])),
    ]
    for out in outputs:
        assert out["probabilities"].shape == (0, 10) and out["probabilities"].dtype == tf.float32
        assert out["class_ids"].shape == (0,) and out["class_ids"].dtype == tf.int64
        assert out["class_names"].shape == (0,) and out["class_names"].dtype == tf.string


def _encodings(image: np.ndarray) -> dict[str, bytes]:
    """One 8x8 gray digit, upsampled 8x (nearest), as PNG, JPEG, BMP, GIF and a two-frame GIF."""
    big = Image.fromarray(image[..., 0]).resize((64, 64), Image.NEAREST)
    encoded = {}
    for fmt in ("PNG", "JPEG", "BMP", "GIF"):
        buffer = io.BytesIO()
        big.save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
        encoded[fmt] = buffer.getvalue()
    # An animated GIF: TF's GIF decoder returns [frames, h, w, 3]; serving takes the first frame.
    buffer = io.BytesIO()
    big.save(buffer, format="GIF", save_all=True, append_images=[Image.eval(big, lambda v: 255 - v)])
    encoded["GIF (animated)"] = buffer.getvalue()
    return encoded


def test_every_image_format_of_one_image_serves_alike(trained_digits, digits_builder):
    images, _ = _test_images(digits_builder, 10)
    signature = tf.saved_model.load(trained_digits.export_path).signatures[SERVING_KEY]
    # The model's own 8x8 input as PNG: 8x nearest upsampling then the in-graph resize gives it back exactly.
    reference = signature(image_bytes=tf.constant([_encode(image, "PNG") for image in images]))["probabilities"]
    reference = reference.numpy()
    encodings = [_encodings(image) for image in images]
    for fmt in encodings[0]:
        out = signature(image_bytes=tf.constant([e[fmt] for e in encodings]))
        probs = out["probabilities"].numpy()
        assert probs.shape == (10, 10), fmt
        # JPEG is lossy (q=95); the lossless formats decode to the very same pixels.
        np.testing.assert_allclose(probs, reference, atol=0.05 if fmt == "JPEG" else 1e-5, err_msg=fmt)
        np.testing.assert_array_equal(out["class_ids"].numpy(), reference.argmax(axis=1), err_msg=fmt)
