"""The restoration report: the model's PSNR, SSIM and MSE over every image, beside the baseline's."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from estimators import tasks as plugins
from estimators.tasks.base import ReportData


def _data(inputs: np.ndarray, clean: np.ndarray, predictions: np.ndarray) -> ReportData:
    def read(role):
        return lambda: tf.data.Dataset.from_tensor_slices(({"image": inputs}, clean)).batch(3)

    return ReportData(predictions, "test", "test", read, (), None, "image")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(tf.reduce_mean(tf.image.psnr(tf.constant(a), tf.constant(b), 1.0)))


def test_super_resolution_is_reported_beside_bicubic_upsampling():
    rng = np.random.default_rng(0)
    clean = rng.uniform(size=(5, 16, 16, 3)).astype(np.float32)
    small = tf.image.resize(clean, (8, 8), method="bicubic", antialias=True).numpy().clip(0, 1)
    blurred = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1).astype(np.float32)
    report = plugins.load("super_resolution").evaluate(_data(small, clean, blurred)).report
    bicubic = tf.image.resize(small, (16, 16), method="bicubic").numpy().clip(0, 1)
    assert report.examples == 5 and report.baseline == "bicubic upsampling"
    np.testing.assert_allclose(report.baseline_psnr, _psnr(clean, bicubic), rtol=1e-5)
    np.testing.assert_allclose(report.psnr, _psnr(clean, blurred), rtol=1e-5)
    np.testing.assert_allclose(report.mse, float(np.mean((clean - blurred) ** 2)), rtol=1e-4)
    assert "over 5 images" in report.format() and f"{report.gain_db:+.2f} dB" in report.format()


def test_denoising_is_reported_beside_the_noisy_input():
    rng = np.random.default_rng(1)
    clean = rng.uniform(size=(4, 16, 16, 1)).astype(np.float32)
    noisy = np.clip(clean + rng.normal(0, 0.2, clean.shape), 0, 1).astype(np.float32)
    report = plugins.load("denoising").evaluate(_data(noisy, clean, clean)).report
    np.testing.assert_allclose(report.baseline_psnr, _psnr(clean, noisy), rtol=1e-5)
    assert report.psnr == 100.0 and report.ssim > 0.999 and report.share_better == 1.0  # a perfect image
    assert report.metrics() == {"psnr": 100.0, "ssim": report.ssim, "mse": 0.0}


def test_each_restoration_task_trains_on_its_own_pixel_loss():
    # EDSR's L1 for super-resolution; the autoencoder chapters' mean squared error for denoising.
    assert isinstance(plugins.load("super_resolution").loss(None), tf.keras.losses.MeanAbsoluteError)
    assert isinstance(plugins.load("denoising").loss(None), tf.keras.losses.MeanSquaredError)
