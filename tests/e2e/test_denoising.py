"""The denoising autoencoder through the front door: the embedded shapes with seeded noise, both engines.

Each engine trains the convolutional autoencoder once (module fixture). The
report must beat the noisy input by a wide margin, the export must take image
bytes and return the denoised image, scripts.predict must write one PNG per
image, and the encoder must come out as a feature extractor of its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from serving_client import served_image_prediction
from support import ShapesTask, latest_export, predict_beside_a_broken_image, serving_signature, train_refused

pytestmark = pytest.mark.medium


SHAPES_TASK = ShapesTask("denoising", "denoiser", 32, 0.003, 250, "samples.png", "the images")


def test_the_report_beats_the_noisy_input(shapes_report):
    run, report = shapes_report
    assert report["baseline"] == "the noisy input"
    # Noise of 0.2 leaves the input at about 14.5 dB; 250 steps gain about 6 dB.
    assert report["psnr"] > report["baseline_psnr"] + 3.0, report
    assert report["mse"] < report["baseline_mse"] / 2, report
    assert f"PSNR {report['psnr']:.2f} dB" in run.stdout and "baseline (the noisy input)" in run.stdout


def _encoder_export(model_dir: Path) -> str:
    return str(sorted((model_dir / "export" / "encoder").glob("1*"))[-1])


def test_the_exports_denoise_and_encode(shapes_runs, tmp_path):
    from input_fns.datasets.shapes.shapes_dataset_builder import draw

    clean, _ = draw(np.random.default_rng(7))
    noisy = np.clip(clean / 255.0 + np.random.default_rng(8).normal(0, 0.2, clean.shape), 0, 1)
    (tmp_path / "noisy.png").write_bytes(tf.io.encode_png((noisy * 255).round().astype(np.uint8)).numpy())
    truth = tf.constant(clean[None] / 255.0, tf.float32)
    for engine, (model_dir, run) in shapes_runs.items():
        out = serving_signature(model_dir)(image_bytes=tf.constant([(tmp_path / "noisy.png").read_bytes()]))
        assert out["pixels"].shape == (1, 64, 64, 3) and out["denoised"].shape == (1, 64, 64, 3), engine
        assert (
            tf.image.psnr(truth, out["denoised"], 1.0) > tf.image.psnr(truth, noisy[None].astype(np.float32), 1.0) + 2
        )
        # The encoder: its own SavedModel, the serving export's weights, a code per image.
        assert f"encoder export: {_encoder_export(model_dir)}" in run.stdout
        encoder = tf.saved_model.load(_encoder_export(model_dir))
        code = encoder.signatures["serving_default"](image_bytes=tf.constant([(tmp_path / "noisy.png").read_bytes()]))
        assert code["code"].shape == (1, 16, 16, 32) and code["features"].shape == (1, 32), engine
        serving_vars = tf.train.load_variable(
            latest_export(model_dir) + "/variables/variables", _key(latest_export(model_dir))
        )
        encoder_vars = [v.numpy() for v in encoder.weights if v.name == "code/kernel:0"]
        np.testing.assert_array_equal(encoder_vars[0], serving_vars)
        output_dir = tmp_path / f"out_{engine}"
        predict_beside_a_broken_image(model_dir, tmp_path, output_dir)
        written = tf.io.decode_png((output_dir / "noisy_denoised.png").read_bytes()).numpy()
        np.testing.assert_array_equal(written, out["pixels"].numpy()[0])


def test_scripts_serve_returns_the_denoised_image_over_rest(shapes_runs, tmp_path):
    model_dir, _ = shapes_runs["estimator"]
    png = tf.io.encode_png(np.random.default_rng(3).integers(0, 256, (64, 64, 3), np.uint8)).numpy()
    direct = serving_signature(model_dir)(image_bytes=tf.constant([png]))
    served = np.array(served_image_prediction(model_dir, png, tmp_path)["pixels"], np.uint8)
    np.testing.assert_array_equal(served, direct["pixels"].numpy()[0])


def _key(export_dir: str) -> str:
    """The checkpoint key of the code layer's kernel in a serving export (the engines name it differently)."""
    names = [name for name, _ in tf.train.list_variables(export_dir + "/variables/variables")]
    by_name = [n for n in names if n == "code/kernel"]
    if by_name:
        return by_name[0]
    loaded = tf.saved_model.load(export_dir)
    index = next(i for i, v in enumerate(loaded.weights) if v.name == "code/kernel:0")
    return f"weights/{index}/.ATTRIBUTES/VARIABLE_VALUE"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--dataset=shapes", "--task=denoising"), ("--task", "'small_cnn'", "denoiser")),
        (("--dataset=shapes", "--task=denoising", "--model=denoiser", "--image_size=30"), ("--image_size", "4")),
        (("--dataset=shapes", "--task=denoising", "--model=denoiser", "--noise_stddev=-1"), ("noise_stddev",)),
        (
            ("--source=image_folder", "--image_dir=x", "--task=denoising", "--model=denoiser"),
            ("--task", "image pairs from --source=tfds"),
        ),
    ],
    ids=["model", "size", "noise", "source"],
)
def test_denoising_misfits_are_one_line_usage_errors(tfds_data_dir, tmp_path, args, words):
    line = train_refused(tfds_data_dir, tmp_path, *args)
    assert all(word in line for word in words), line
