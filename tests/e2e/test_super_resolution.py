"""Super-resolution through the front door: the embedded shapes downgraded x2, both engines, a prepared div2k.

Each engine trains the EDSR-style model once (module fixture). The report must
beat bicubic upsampling, the export must take image bytes and return the image
twice as large, and scripts.predict must write one PNG per image. div2k is read
by name when prepared: here a tiny one, generated and prepared locally with the
features TFDS's builder gives it (``lr``, ``hr``).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from support import ShapesTask, predict_beside_a_broken_image, serving_signature, train, train_refused

pytestmark = pytest.mark.medium


SHAPES_TASK = ShapesTask("super_resolution", "edsr", 16, 0.001, 100, "samples.png", "the images")


def test_the_report_beats_bicubic_upsampling(shapes_report):
    run, report = shapes_report
    assert report["baseline"] == "bicubic upsampling"
    # Bicubic x2 scores about 22.9 dB on the test shapes; 100 steps gain over half a dB.
    assert report["psnr"] > report["baseline_psnr"] + 0.3, report
    assert report["ssim"] > report["baseline_ssim"] + 0.02, report
    assert sum(m > b for m, b in zip(report["image_psnr"], report["image_baseline_psnr"], strict=True)) > 180
    assert f"PSNR {report['psnr']:.2f} dB, SSIM {report['ssim']:.4f}" in run.stdout
    assert "test psnr" in run.stdout and "validation psnr" in run.stdout


def test_the_export_takes_bytes_and_returns_the_larger_image(shapes_runs, tmp_path):
    from input_fns.datasets.shapes.shapes_dataset_builder import draw

    clean, _ = draw(np.random.default_rng(123))
    small = tf.image.resize(clean, (32, 32), method="bicubic", antialias=True).numpy().clip(0, 255).astype(np.uint8)
    (tmp_path / "small.png").write_bytes(tf.io.encode_png(small).numpy())
    for engine, (model_dir, _) in shapes_runs.items():
        out = serving_signature(model_dir)(image_bytes=tf.constant([(tmp_path / "small.png").read_bytes()]))
        assert out["pixels"].shape == (1, 64, 64, 3) and out["pixels"].dtype == tf.uint8, engine
        assert out["upscaled"].shape == (1, 64, 64, 3), engine
        bicubic = tf.image.resize(small[None] / 255.0, (64, 64), method="bicubic").numpy().clip(0, 1)
        truth = tf.constant(clean[None] / 255.0, tf.float32)
        assert tf.image.psnr(truth, out["upscaled"], 1.0) > tf.image.psnr(truth, bicubic.astype(np.float32), 1.0)
        output_dir = tmp_path / f"out_{engine}"
        cli = predict_beside_a_broken_image(model_dir, tmp_path, output_dir)
        written = tf.io.decode_png((output_dir / "small_upscaled.png").read_bytes()).numpy()
        np.testing.assert_array_equal(written, out["pixels"].numpy()[0])
        assert cli.stdout.splitlines()[0].split() == ["path", "output", "size"] and "64x64" in cli.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--dataset=digits", "--task=super_resolution", "--model=edsr"), ("--scale", "'digits' holds 8x8", "16")),
        (("--dataset=shapes", "--task=super_resolution"), ("--task", "'small_cnn'", "edsr")),
        (("--dataset=shapes", "--task=super_resolution", "--model=edsr", "--augment_hflip"), ("--augment_*",)),
        (
            ("--source=csv", "--train_files=x.csv", "--task=super_resolution", "--model=edsr"),
            ("--task", "image pairs from --source=tfds"),
        ),
    ],
    ids=["too_small_for_the_scale", "model", "augment", "source"],
)
def test_super_resolution_misfits_are_one_line_usage_errors(tfds_data_dir, tmp_path, args, words):
    line = train_refused(tfds_data_dir, tmp_path, *args)
    assert all(word in line for word in words), line


def _prepare_div2k(data_dir, wrong_pair: bool) -> str:
    """A tiny div2k (bicubic_x2) prepared in ``data_dir``: TFDS's builder, its images generated here."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.datasets.div2k import div2k_dataset_builder as div2k

    class LocalDiv2k(div2k.Builder, skip_registration=True):
        name = "div2k"

        def _info(self):
            image = tfds.features.Image()
            features = tfds.features.FeaturesDict({"lr": image, "hr": image})
            return tfds.core.DatasetInfo(builder=self, features=features, supervised_keys=("lr", "hr"))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(10, 0), "validation": self._generate_examples(4, 1)}

        def _generate_examples(self, count, seed):
            from input_fns.datasets.shapes.shapes_dataset_builder import draw

            rng = np.random.default_rng(seed)
            for i in range(count):
                hr, _ = draw(rng)
                lr = tf.image.resize(hr, (32, 32), method="bicubic", antialias=True).numpy().clip(0, 255)
                yield i, {"lr": lr.astype(np.uint8), "hr": hr[:, :60] if wrong_pair and i == 3 else hr}

    builder = LocalDiv2k(data_dir=str(data_dir), config="bicubic_x2")
    builder.download_and_prepare()
    return str(builder.data_dir)


DIV2K = ("--dataset=div2k", "--task=super_resolution", "--model=edsr", "--image_size=16", "--test_split=validation")


def test_div2k_by_name_trains_on_its_own_pairs(tmp_path):
    _prepare_div2k(tmp_path / "data", wrong_pair=False)
    model_dir = tmp_path / "div2k"
    run = train(tmp_path / "data", model_dir, *DIV2K, "--train_steps=4", "--batch_size=4", "--novalidate_data")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "over 4 images" in run.stdout  # the validation split, as the report role
    signature = serving_signature(model_dir)
    assert signature.structured_outputs["pixels"].shape.as_list() == [None, 32, 32, 3]
    # The pair's roles: 'lr' goes in, 'hr' is the target. The report's bicubic baseline is the low-resolution
    # crop upscaled against the high-resolution crop it covers, computed here from the prepared split.
    expected = np.mean([_bicubic_psnr(lr[:16, :16], hr[:32, :32]) for lr, hr in _div2k_pairs(tmp_path / "data")])
    assert f"baseline (bicubic upsampling): PSNR {expected:.2f} dB" in run.stdout, run.stdout


def _div2k_pairs(data_dir) -> list[tuple[np.ndarray, np.ndarray]]:
    import tensorflow_datasets as tfds

    builder = tfds.builder("div2k", data_dir=str(data_dir), try_gcs=False)
    return [(e["lr"], e["hr"]) for e in tfds.as_numpy(builder.as_dataset(split="validation", shuffle_files=False))]


def _bicubic_psnr(lr: np.ndarray, hr: np.ndarray) -> float:
    upscaled = tf.clip_by_value(tf.image.resize(lr / 255.0, hr.shape[:2], method="bicubic"), 0.0, 1.0)
    return float(tf.image.psnr(tf.constant(hr / 255.0, tf.float32), tf.cast(upscaled, tf.float32), 1.0))


def test_a_wrong_size_pair_is_named_before_training(tmp_path):
    where = _prepare_div2k(tmp_path / "data", wrong_pair=True)
    line = train_refused(tmp_path / "data", tmp_path, *DIV2K)
    assert f"--scale: '{where}' train" in line and "'hr' 60x64" in line, line
    assert "exactly 2 times 'lr'" in line, line
