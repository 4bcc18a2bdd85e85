"""The GAN through the front door: the embedded digits, both engines, a Frechet distance that beats an untrained
generator, resume, the export that takes noise, and refusals.

Each engine trains the DCGAN once (module fixture, gate on); the other tests read those runs or copy them.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
import tensorflow as tf
from support import finished_run, latest_export, one_error_line, run_script, train, train_refused

pytestmark = pytest.mark.medium

STEPS = 600
ARGS = (
    "--dataset=digits",
    "--task=gan",
    "--model=dcgan",
    "--batch_size=32",
    "--learning_rate=0.001",
    f"--train_steps={STEPS}",
)
ENGINES = ("estimator", "keras")


@pytest.fixture(scope="module")
def gan_runs(tfds_data_dir, tmp_path_factory):
    runs = {}
    for engine in ENGINES:
        model_dir = tmp_path_factory.mktemp(f"gan_{engine}")
        runs[engine] = (model_dir, train(tfds_data_dir, model_dir, *ARGS, f"--engine={engine}", timeout=900))
    return runs


@pytest.mark.parametrize("engine", ENGINES)
def test_the_trained_generator_beats_an_untrained_one(gan_runs, engine):
    model_dir, run, report = finished_run(gan_runs, engine)
    assert report["examples"] == 360 and report["classifier_accuracy"] > 0.8, report
    # Real held-out digits are the floor; the trained generator must close a tenth of the gap at least.
    assert report["real_floor"] < report["frechet_distance"] < 0.9 * report["untrained_generator"], report
    assert f"Frechet distance {report['frechet_distance']:.4f} over 360 generated images" in run.stdout
    assert f"step {STEPS}/{STEPS} (100%)" in run.stdout and "validation:" in run.stdout, run.stdout[-3000:]
    for name in ("samples.png", "curves.png", "report.html"):
        assert (model_dir / "report" / name).stat().st_size > 1000, name


def test_a_second_run_with_more_steps_resumes(gan_runs, tfds_data_dir, tmp_path):
    for engine in ENGINES:
        model_dir = tmp_path / engine
        shutil.copytree(gan_runs[engine][0], model_dir)
        more = STEPS + 100
        args = [a for a in ARGS if not a.startswith("--train_steps")]
        run = train(tfds_data_dir, model_dir, *args, f"--train_steps={more}", f"--engine={engine}", "--novalidate_data")
        assert run.returncode == 0, run.stderr[-3000:]
        steps = [int(s) for s in re.findall(r"^step (\d+)/", run.stdout, re.M)]
        # Resumed at STEPS: no progress line below it, and the run ends at the new total.
        assert steps and min(steps) > STEPS and steps[-1] == more, (engine, run.stdout[-2000:])
        assert re.search(rf"^global step\s+{more}$", run.stdout, re.M), (engine, run.stdout[-2000:])


def test_the_export_takes_noise_and_returns_images(gan_runs):
    noise = np.random.default_rng(1).standard_normal((5, 32)).astype(np.float32)
    for engine, (model_dir, _) in gan_runs.items():
        signature = tf.saved_model.load(latest_export(model_dir)).signatures["serving_default"]
        images = signature(noise=tf.constant(noise))["images"].numpy()
        assert images.shape == (5, 8, 8, 1) and images.min() >= 0 and images.max() <= 1, engine
        assert images.std(axis=0).mean() > 0.01, f"{engine}: one image for every noise vector"


def test_predict_draws_seeded_samples_as_pngs(gan_runs, tmp_path):
    model_dir, _ = gan_runs["keras"]
    export = latest_export(model_dir)
    cli = run_script(
        "scripts.predict", f"--export_dir={export}", "--samples=10", "--seed=1", f"--output_dir={tmp_path}"
    )
    assert cli.returncode == 0 and "wrote 10 samples (seed 1)" in cli.stdout, cli.stderr[-2000:]
    assert len(list(tmp_path.glob("sample_*.png"))) == 10 and (tmp_path / "samples.png").exists()
    noise = np.random.default_rng(1).standard_normal((10, 32)).astype(np.float32)
    expected = tf.saved_model.load(export).signatures["serving_default"](noise=tf.constant(noise))["images"][3]
    written = tf.io.decode_png((tmp_path / "sample_003.png").read_bytes()).numpy()
    assert np.abs(written / 255.0 - expected.numpy()).max() <= 1 / 255, "the PNG is the export's image for that seed"
    refused = run_script("scripts.predict", f"--export_dir={export}", "--samples=2")
    one_error_line(refused, "--output_dir")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--dataset=diabetes", "--model=dcgan"), ("diabetes",)),
        (("--dataset=digits", "--model=small_cnn"), ("small_cnn", "gan", "dcgan")),
        (("--dataset=digits", "--model=dcgan", "--image_size=6"), ("divisible by 4",)),
        (("--dataset=digits", "--model=dcgan", "--early_stopping_steps=100"), ("early_stopping_steps", "gan")),
        (("--dataset=digits", "--model=dcgan", "--tflite_output_file=/tmp/g.tflite"), ("tflite_output_file", "gan")),
    ],
)
def test_refused_in_one_line(tfds_data_dir, tmp_path, args, words):
    line = train_refused(tfds_data_dir, tmp_path, "--task=gan", "--train_steps=10", *args)
    assert all(word in line for word in words), line


def test_a_folder_without_images_is_one_line_naming_it(tfds_data_dir, tmp_path):
    (tmp_path / "images" / "digits").mkdir(parents=True)
    (tmp_path / "images" / "digits" / "notes.txt").write_text("no image here")
    args = ("--task=gan", "--model=dcgan", "--source=image_folder", f"--image_dir={tmp_path / 'images'}")
    line = train_refused(tfds_data_dir, tmp_path, *args, "--image_size=8", "--train_steps=10")
    assert str(tmp_path / "images") in line and "no .jpg" in line, line


@pytest.mark.parametrize("engine", ENGINES)
def test_a_nan_loss_stops_the_run_before_any_export(tfds_data_dir, tmp_path, engine):
    args = [a for a in ARGS if not a.startswith(("--learning_rate", "--train_steps"))]
    run = train(
        tfds_data_dir,
        tmp_path,
        *args,
        "--learning_rate=1e30",
        "--train_steps=50",
        "--novalidate_data",
        f"--engine={engine}",
    )
    one_error_line(run, "NaN or infinite", "nothing was exported", status=1)
    assert not (tmp_path / "export").exists() and not (tmp_path / "report").exists()


def test_scripts_serve_answers_noise_with_the_exports_images(gan_runs, tmp_path):
    from serving_client import MODEL, Server, model_args, model_base

    model_dir, _ = gan_runs["estimator"]
    export = latest_export(model_dir)
    noise = np.random.default_rng(2).standard_normal((3, 32)).astype(np.float32)
    expected = tf.saved_model.load(export).signatures["serving_default"](noise=tf.constant(noise))["images"].numpy()
    base = model_base(export, tmp_path)
    with Server(base, model_args(base), tmp_path / "err.log") as served:
        code, answer = served.post(f"/v1/models/{MODEL}:predict", {"instances": [{"noise": n} for n in noise.tolist()]})
    assert code == 200, answer
    np.testing.assert_allclose(np.array(answer["predictions"]), expected, atol=1e-5)
