"""The denoiser's encoder, exported as a feature extractor from a real serving export: the same code."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from estimators.models.autoencoder import CODE_LAYER, build_denoiser, export_encoder
from estimators.models.spec import ModelSpec
from estimators.serving import Serving
from estimators.serving.keras_export import export_keras_model
from input_fns.preprocessing import ImageSpec


def test_the_encoder_export_gives_the_models_code(tmp_path):
    image = ImageSpec(16, 16, 3)
    spec = ModelSpec(image, 0, task="denoising")
    model = build_denoiser(spec)
    for weight in model.weights:  # weights unlike a fresh build's, so a copy that is not made shows
        weight.assign(np.random.default_rng(len(weight.name)).normal(0, 0.3, weight.shape))
    serving_dir = export_keras_model(
        model, str(tmp_path / "export" / "serving"), Serving((), "image", image, task="denoising")
    )
    encoder_dir = export_encoder(serving_dir)
    assert encoder_dir == str(tmp_path / "export" / "encoder" / serving_dir.rsplit("/", 1)[-1])
    images = np.random.default_rng(0).uniform(size=(2, 16, 16, 3)).astype(np.float32)
    expected = tf.keras.Model(model.input, model.get_layer(CODE_LAYER).output)(images).numpy()
    out = tf.saved_model.load(encoder_dir).signatures["float_images:serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(out["code"].numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["features"].numpy(), expected.mean(axis=(1, 2)), rtol=1e-5, atol=1e-5)
    png = tf.io.encode_png((images[0] * 255).round().astype(np.uint8)).numpy()
    by_bytes = tf.saved_model.load(encoder_dir).signatures["serving_default"](image_bytes=tf.constant([png]))
    assert by_bytes["code"].shape == (1, 4, 4, 32)
