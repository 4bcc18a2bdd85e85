"""Two-stage fine-tuning (stage 2 warm-started from stage 1) and the bottleneck cache, under both engines."""

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from support import run_script

from common.names import EXPORT_DIR, LATEST_EXPORTER
from common.params import CheckpointPolicy, DataParams, Hparams, ModelParams, OutputParams, TrainingParams
from estimators.serving import receivers as serving
from input_fns import pipeline_ops, tfds_source
from input_fns.pipeline_ops import InputRequest
from input_fns.preprocessing import ImageSpec
from pipeline import train

pytestmark = pytest.mark.large


def hparams(tfds_data_dir, model_dir, engine, model="vgg16", **model_params) -> Hparams:
    training = model_params.pop("training", {})
    return Hparams(
        data=DataParams(data_dir=tfds_data_dir, image_size=32, test_split="test[:64]"),
        model=ModelParams(name=model, **model_params),
        training=TrainingParams(
            batch_size=16, train_steps=20, eval_throttle_secs=0, engine=engine, report=False, **training
        ),
        output=OutputParams(model_dir=str(model_dir), checkpoints=CheckpointPolicy(save_checkpoints_steps=20)),
    )


def test_estimator_stage2_is_warm_started_from_stage1(tfds_data_dir, tmp_path):
    hp = hparams(tfds_data_dir, tmp_path, "estimator", fine_tune_steps=20, fine_tune_from="block5_conv1")
    summary = train.run(hp)
    assert summary.stages == 2 and summary.global_step == 20
    stage1 = tf.train.load_checkpoint(str(tmp_path))
    stage2 = tf.train.load_checkpoint(str(tmp_path / "fine_tune"))
    # Frozen in both stages: stage 2 holds exactly stage 1's values (not a fresh initialisation).
    np.testing.assert_array_equal(stage2.get_tensor("block1_conv1/kernel"), stage1.get_tensor("block1_conv1/kernel"))
    # Unfrozen in stage 2: it moved from stage 1's values, slowly (learning rate x0.1).
    moved = stage2.get_tensor("block5_conv3/kernel") - stage1.get_tensor("block5_conv3/kernel")
    assert 0 < np.abs(moved).max() < 0.1
    assert "training/Adam/block5_conv3/kernel/m" in dict(tf.train.list_variables(str(tmp_path / "fine_tune")))
    assert Path(summary.export_path).parent == tmp_path / "fine_tune" / EXPORT_DIR / LATEST_EXPORTER


def test_keras_fine_tuning_by_fraction(tfds_data_dir, tmp_path):
    hp = hparams(tfds_data_dir, tmp_path, "keras", fine_tune_steps=20, fine_tune_fraction=0.2)
    summary = train.run(hp)
    assert summary.stages == 2 and summary.global_step == 20
    assert (Path(summary.export_path) / "saved_model.pb").is_file()


def _eval_images(builder, count=64):
    spec = ImageSpec(32, 32, 3, "caffe")
    fn = tfds_source.input_fn(builder, f"test[:{count}]", InputRequest(pipeline_ops.EVALUATE, count, "image", spec))
    features, labels = next(iter(fn()))
    return features["image"], labels.numpy()


@pytest.mark.parametrize("engine", ["estimator", "keras"])
def test_bottleneck_cache_trains_the_head_and_exports_the_full_model(engine, tfds_data_dir, digits_builder, tmp_path):
    cache = tmp_path / "cache"
    log = io.StringIO()
    first = train.run(
        hparams(
            tfds_data_dir, tmp_path / "a", engine, training={"bottleneck_cache": True, "bottleneck_dir": str(cache)}
        ),
        log,
    )
    # One cache file per role: train 80% of digits' train, validation the other 20%, test the test[:64] slice.
    computed = re.findall(r"^bottleneck: computed (\d+) (\w+) feature vectors", log.getvalue(), re.M)
    assert sorted(computed) == sorted([("1150", "train"), ("287", "validation"), ("64", "test")])
    assert len(list(cache.glob("*.npz"))) == 3
    assert first.global_step == 20
    # The long pass shows progress: examples done, a rate and the time left, up to the whole split.
    progress = re.findall(r"^bottleneck train examples (\d+)/1150 .* examples/sec  time left ", log.getvalue(), re.M)
    assert len(progress) >= 5 and progress[-1] == "1150"

    # The exported full model (base + moved head) scores the eval split as the head did.
    signature = tf.saved_model.load(first.export_path).signatures[serving.FLOAT_SIGNATURE]
    images, labels = _eval_images(digits_builder)
    predicted = signature(images=images)["class_ids"].numpy()
    assert np.mean(predicted == labels) == pytest.approx(first.accuracy, abs=1e-6)

    second = train.run(
        hparams(
            tfds_data_dir, tmp_path / "b", engine, training={"bottleneck_cache": True, "bottleneck_dir": str(cache)}
        ),
        log,
    )
    read = re.findall(r"^bottleneck: read (\d+) (\w+) feature vectors", log.getvalue(), re.M)
    assert sorted(read) == sorted(computed) and len(list(cache.glob("*.npz"))) == 3
    assert second.accuracy == pytest.approx(first.accuracy, abs=0.05)


def test_bottleneck_benchmark_reports_end_to_end_totals_on_a_pretrained_base(tfds_data_dir, tmp_path):
    """The speed-up over all the epochs (the first included) and the per-epoch one after it, on a trained base."""
    out = tmp_path / "bench"
    result = run_script(
        "scripts.bottleneck_benchmark",
        "--model=vgg16",
        "--image_size=32",
        "--epochs=3",
        "--batch_size=16",
        "--train_split=train[:5%]",
        "--eval_split=test[:10%]",
        "--pretrain_steps=3",
        f"--data_dir={tfds_data_dir}",
        f"--out_dir={out}",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    r = json.loads((out / "benchmark.json").read_text())
    uncached, cached = r["seconds_per_epoch_no_cache"], r["seconds_per_epoch_cache"]
    assert len(uncached) == len(cached) == r["epochs"] == 3 and min(uncached + cached) > 0
    assert r["total_seconds_no_cache"] == pytest.approx(sum(uncached))
    assert r["total_seconds_cache"] == pytest.approx(sum(cached))
    assert r["speedup_end_to_end"] == pytest.approx(sum(uncached) / sum(cached))
    later = (sum(uncached[1:]) / 2) / (sum(cached[1:]) / 2)
    assert r["speedup_after_first_epoch"] == pytest.approx(later)
    both = (sum(uncached) + r["evaluate_seconds_no_cache"]) / (sum(cached) + r["evaluate_seconds_cache"])
    assert r["speedup_with_evaluation"] == pytest.approx(both)
    assert 0 <= r["accuracy_cache"] <= 1 and r["chance_accuracy"] == pytest.approx(0.1)
    # The base was trained on the data first and went in as a local weights file.
    pretraining = r["pretraining"]
    assert pretraining["steps"] == 3 and pretraining["image_size"] == 32 and pretraining["seconds"] > 0
    assert Path(pretraining["weights_file"]).is_file()
    assert (out / "benchmark.png").read_bytes()[:4] == b"\x89PNG"
    assert re.search(r"^end to end over 3 epochs \(first included\): [\d.]+x", result.stdout, re.M)
    assert re.search(r"^epochs 2-3 \(s, mean\)", result.stdout, re.M)
