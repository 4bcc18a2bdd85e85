"""The exported SavedModel serves PNG/JPEG bytes: class ids, names and probabilities."""

import io
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from common.names import ASSETS_EXTRA, LABELS_FILE, SERVING_KEY
from estimators import conversion
from estimators.models import build_model
from estimators.models.spec import ModelSpec
from input_fns import tfds_source
from input_fns.preprocessing import ImageSpec


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
    input_fn = tfds_source.make_input_fn(digits_builder, "test[:40]", tfds_source.PREDICT, 40, "image", spec.image)
    estimator_probs = np.stack([p["probabilities"] for p in estimator.predict(input_fn)])
    np.testing.assert_allclose(probs, estimator_probs, atol=1e-5)


def test_jpeg_bytes_are_served_too(trained_digits, digits_builder):
    images, _ = _test_images(digits_builder, 3)
    signature = tf.saved_model.load(trained_digits.export_path).signatures[SERVING_KEY]
    out = signature(image_bytes=tf.constant([_encode(image, "JPEG") for image in images]))
    assert out["class_ids"].shape == (3,)
