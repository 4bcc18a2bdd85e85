"""The GAN report's arithmetic: the Frechet distance, the sample grid, and the printed lines."""

from __future__ import annotations

import numpy as np
import pytest

from estimators.tasks import gan_report

pytestmark = pytest.mark.small


def test_the_frechet_distance_of_gaussians_is_their_closed_form():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    assert gan_report.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # Same covariance, means 2 apart on each of 3 axes: ||mu_a - mu_b||^2 = 12, the trace term ~0.
    assert gan_report.frechet_distance(a, a + 2.0) == pytest.approx(12.0, abs=1e-6)
    # Unit vs 3x the deviation in 3 dims: tr(I + 9I - 2*3I) = 3*4 = 12.
    assert gan_report.frechet_distance(a, 3 * rng.standard_normal((20000, 3))) == pytest.approx(12.0, rel=0.05)


def test_a_singular_covariance_still_gives_a_finite_distance():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((500, 4))
    collapsed = np.zeros((500, 4))  # a generator that draws one image: no spread at all
    assert np.isfinite(gan_report.frechet_distance(a, collapsed))
    assert gan_report.frechet_distance(a, collapsed) > gan_report.frechet_distance(a, a[::-1])


def test_the_grid_tiles_images_row_by_row():
    images = np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1) / 10
    tiled = gan_report.grid(images, side=3)
    assert tiled.shape == (3, 3, 1)
    np.testing.assert_allclose(tiled[..., 0], [[0.0, 0.1, 0.2], [0.3, 0.4, 0.0], [0.0, 0.0, 0.0]])


def test_the_report_prints_the_distance_beside_its_baselines():
    report = gan_report.GanReport("test", 360, 80.0, 1.5, 160.0, 90.0, 0.95, 1150)
    text = report.format()
    assert "Frechet distance 80.0000 over 360 generated images (untrained generator 160.0000: +50%" in text
    assert "real held-out images 1.5000, the floor" in text and report.metrics() == {"frechet_distance": 80.0}
