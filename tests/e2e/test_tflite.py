"""--tflite_output_file through the front door: python -m scripts.train on the digits dataset.

For each engine the exported .tflite files are loaded with tf.lite.Interpreter and run on the
whole test split; their top-1 class is compared with the run's SavedModel (serving_default on
the test images as PNG bytes, as scripts.predict calls it). Then the refusals: one line, exit 2,
nothing written.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from support import run_script, train

from estimators.serving import predict, receivers

pytestmark = pytest.mark.medium

STEPS = "--train_steps=60"  # enough for a model whose top-1 is not a near tie everywhere
BASE = ("--eval_throttle_secs=0", "--progress_every_steps=1000", "--novalidate_data", "--noreport")
CLASSES = [str(d) for d in range(10)]


@dataclasses.dataclass(frozen=True)
class Exported:
    stdout: str
    export_dir: str
    float_model: Path
    dynamic_range_model: Path
    labels: Path


def _train(tfds_data_dir: str, root: Path, *args: str) -> Exported:
    out = root / "lite" / "digits.tflite"
    r = train(
        tfds_data_dir,
        root / "model",
        STEPS,
        *BASE,
        f"--tflite_output_file={out}",
        *args,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    export_dir = re.search(r"^export\s+(\S+)$", r.stdout, re.M).group(1)
    return Exported(r.stdout, export_dir, out, out.parent / "digits_dynamic_range.tflite", out.parent / "labels.txt")


@pytest.fixture(scope="module", params=["estimator", "keras"])
def exported(request, tfds_data_dir, tmp_path_factory) -> Exported:
    return _train(tfds_data_dir, tmp_path_factory.mktemp(request.param), f"--engine={request.param}")


@pytest.fixture(scope="module")
def test_split(digits_builder) -> tuple[np.ndarray, np.ndarray]:
    """The digits test split as decoded uint8 images [n, 8, 8, 1], and their labels."""
    batch = digits_builder.as_dataset(split="test", batch_size=-1)  # the whole split, one dict of tensors
    return batch["image"].numpy(), batch["label"].numpy()


def saved_model_probabilities(export_dir: str, images: np.ndarray) -> np.ndarray:
    signature = predict.load_signature(export_dir)
    encoded = tf.constant([tf.io.encode_png(image).numpy() for image in images])
    return signature(**{receivers.BYTES_INPUT: encoded})["probabilities"].numpy()


def tflite_probabilities(path: Path, images: np.ndarray) -> np.ndarray:
    interpreter = tf.lite.Interpreter(model_path=str(path))
    (pixels,) = interpreter.get_input_details()
    # What the docs promise: float32 [1, 8, 8, 1] pixels 0..255; the batch may be resized.
    assert pixels["dtype"] == np.float32 and list(pixels["shape"]) == [1, 8, 8, 1], pixels
    interpreter.resize_tensor_input(pixels["index"], list(images.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(pixels["index"], images.astype(np.float32))
    interpreter.invoke()
    (output,) = interpreter.get_output_details()
    return interpreter.get_tensor(output["index"])


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a.argmax(axis=1) == b.argmax(axis=1)))


def test_tflite_agrees_with_the_saved_model_on_the_test_split(exported: Exported, test_split):
    images, labels = test_split
    served = saved_model_probabilities(exported.export_dir, images)
    lite = tflite_probabilities(exported.float_model, images)
    quantised = tflite_probabilities(exported.dynamic_range_model, images)
    float_agrees, dynamic_agrees = agreement(lite, served), agreement(quantised, served)
    print(
        f"\n{len(images)} test images: float top-1 agreement {float_agrees:.4f} (max |dp| "
        f"{np.abs(lite - served).max():.2e}), dynamic range {dynamic_agrees:.4f}; accuracy saved model "
        f"{np.mean(served.argmax(1) == labels):.4f}, float {np.mean(lite.argmax(1) == labels):.4f}, "
        f"dynamic range {np.mean(quantised.argmax(1) == labels):.4f}; sizes float "
        f"{exported.float_model.stat().st_size:,} B, dynamic range {exported.dynamic_range_model.stat().st_size:,} B"
    )
    assert float_agrees >= 0.99
    assert np.allclose(lite, served, atol=1e-4)
    assert dynamic_agrees >= 0.95  # int8 weights move a few near ties; measured figures in docs/serving.md
    assert np.allclose(lite.sum(axis=1), 1.0, atol=1e-4)


def test_summary_names_the_files_and_sizes_and_the_labels_match_the_saved_model(exported: Exported):
    for kind, path in (("float32", exported.float_model), ("dynamic range", exported.dynamic_range_model)):
        line = re.search(rf"^tflite {kind}\s+(\S+)  \(([\d,.]+) KB\)$", exported.stdout, re.M)
        assert line and line.group(1) == str(path), exported.stdout
        assert float(line.group(2).replace(",", "")) == pytest.approx(path.stat().st_size / 1024, abs=0.05)
    assert re.search(rf"^tflite labels\s+{re.escape(str(exported.labels))}  ", exported.stdout, re.M)
    # Dynamic range stores the big kernels as int8: well under half the float model.
    assert exported.dynamic_range_model.stat().st_size < exported.float_model.stat().st_size / 2
    assert exported.labels.read_text().splitlines() == CLASSES
    assert receivers.read_labels(exported.export_dir) == tuple(CLASSES)
    assert sorted(p.name for p in exported.float_model.parent.iterdir()) == sorted(
        ["digits.tflite", "digits_dynamic_range.tflite", "labels.txt"]
    ), "a temporary file was left behind"


def test_a_features_model_takes_its_feature_vector(tfds_data_dir, tmp_path, test_split):
    """The dnn reads the digits as one flattened feature ('pixels', normalised as the SavedModel takes it)."""
    run = _train(tfds_data_dir, tmp_path, "--engine=keras", "--model=dnn")
    images, _ = test_split
    interpreter = tf.lite.Interpreter(model_path=str(run.float_model))
    (pixels,) = interpreter.get_input_details()
    assert list(pixels["shape"]) == [1, 64] and pixels["dtype"] == np.float32
    features = (images.reshape(len(images), 64) / 255.0).astype(np.float32)
    interpreter.resize_tensor_input(pixels["index"], list(features.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(pixels["index"], features)
    interpreter.invoke()
    lite = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    served = tf.saved_model.load(run.export_dir).signatures["serving_default"](pixels=tf.constant(features))
    assert agreement(lite, served["probabilities"].numpy()) >= 0.99


def test_a_regression_model_takes_raw_features_and_predicts_the_value(tfds_data_dir, tmp_path):
    """Diabetes (10 raw numeric features): the training standardisation runs inside the .tflite, as in the export."""
    from input_fns import tfds_source

    args = ("--dataset=diabetes", "--task=regression", "--model=dnn", "--engine=estimator")
    run = _train(tfds_data_dir, tmp_path, *args)
    assert not run.labels.exists() and "tflite labels" not in run.stdout  # one value: no classes to name
    rows = tfds_source.load_builder("diabetes", tfds_data_dir).as_dataset(split="test", batch_size=-1)
    interpreter = tf.lite.Interpreter(model_path=str(run.float_model))
    inputs = {d["name"].split(":")[0].removeprefix("serving_default_"): d for d in interpreter.get_input_details()}
    features = {name: rows[name].numpy().astype(np.float32)[:, None] for name in inputs}
    for name, detail in inputs.items():
        interpreter.resize_tensor_input(detail["index"], list(features[name].shape))
    interpreter.allocate_tensors()
    for name, detail in inputs.items():
        interpreter.set_tensor(detail["index"], features[name])
    interpreter.invoke()
    lite = interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).reshape(-1)
    signature = tf.saved_model.load(run.export_dir).signatures["serving_default"]
    served = signature(**{name: tf.constant(value) for name, value in features.items()})["predictions"].numpy()
    assert len(inputs) == 10 and lite.shape == served.shape == (89,)
    assert np.allclose(lite, served, rtol=1e-4, atol=1e-3), np.abs(lite - served).max()


# --- refusals: one line, exit 2, nothing written ----------------------------------------------------


def _refused(tfds_data_dir: str, tmp_path: Path, value: str, *args: str) -> str:
    model_dir = tmp_path / "model"
    r = run_script(
        "scripts.train",
        f"--data_dir={tfds_data_dir}",
        f"--model_dir={model_dir}",
        "--train_steps=1",
        *BASE,
        f"--tflite_output_file={value}",
        *args,
        timeout=300,
    )
    lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert r.returncode == 2 and len(lines) == 1, f"exit {r.returncode}\n{r.stderr[-3000:]}"
    assert "Traceback" not in r.stderr and "--tflite_output_file" in lines[0], r.stderr[-3000:]
    assert not model_dir.exists(), "the refused run wrote its model_dir"
    return lines[0]


def test_refuses_a_path_not_ending_in_tflite(tfds_data_dir, tmp_path):
    line = _refused(tfds_data_dir, tmp_path, str(tmp_path / "model.bin"))
    assert "must be a file name ending in .tflite" in line
    assert not (tmp_path / "model.bin").exists()


def test_refuses_a_directory(tfds_data_dir, tmp_path):
    (tmp_path / "out.tflite").mkdir()
    assert "is a directory" in _refused(tfds_data_dir, tmp_path, str(tmp_path / "out.tflite"))


def test_refuses_to_replace_a_file_that_is_not_a_tflite_model(tfds_data_dir, tmp_path):
    theirs = tmp_path / "notes_dynamic_range.tflite"
    theirs.write_text("someone's notes")
    line = _refused(tfds_data_dir, tmp_path, str(tmp_path / "notes.tflite"))
    assert f"'{theirs}' exists and is not a TFLite model" in line
    assert theirs.read_text() == "someone's notes" and not (tmp_path / "notes.tflite").exists()


def test_refuses_a_folder_under_a_file(tfds_data_dir, tmp_path):
    (tmp_path / "plain").write_text("x")
    assert "is not a directory" in _refused(tfds_data_dir, tmp_path, str(tmp_path / "plain" / "m.tflite"))


def test_refuses_a_canned_estimator_before_training(tfds_data_dir, tmp_path):
    line = _refused(tfds_data_dir, tmp_path, str(tmp_path / "m.tflite"), "--model=canned_dnn")
    assert "'canned_dnn' is a canned Estimator" in line and not (tmp_path / "m.tflite").exists()


def test_refuses_to_overwrite_another_models_labels(tfds_data_dir, tmp_path):
    (tmp_path / "labels.txt").write_text("cat\ndog\n")
    line = _refused(tfds_data_dir, tmp_path, str(tmp_path / "m.tflite"))
    assert "lists other classes than this run's" in line
    assert (tmp_path / "labels.txt").read_text() == "cat\ndog\n" and not (tmp_path / "m.tflite").exists()


def test_refuses_a_name_too_long_for_the_dynamic_range_model(tfds_data_dir, tmp_path):
    # 240 + ".tflite" fits a file name; 240 + "_dynamic_range.tflite" does not (255 bytes).
    line = _refused(tfds_data_dir, tmp_path, str(tmp_path / ("x" * 240 + ".tflite")))
    assert "file name too long" in line


# --- a write failing partway ------------------------------------------------------------------------


class _Unwritable:
    """A payload GFile cannot write: the write of the file it stands for fails, after the ones before it."""


def test_a_write_failing_partway_leaves_the_previous_files_intact(tmp_path):
    from common.names import tflite_files
    from estimators.serving import tflite_export

    paths = tflite_files(str(tmp_path / "m.tflite"))
    for i, path in enumerate(paths):
        Path(path).write_bytes(f"previous {i}".encode())
    # The float model is written whole; the dynamic-range model's write then fails.
    new = dict(zip(paths, (b"new float model", _Unwritable(), b"0\n1\n"), strict=True))
    with pytest.raises(TypeError):
        tflite_export._write_all(new)
    assert [Path(p).read_bytes() for p in paths] == [f"previous {i}".encode() for i in range(3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(p).name for p in paths)  # no staging left
    # Nothing failing: every file replaced.
    tflite_export._write_all(dict(zip(paths, (b"a", b"b", b"c"), strict=True)))
    assert [Path(p).read_bytes() for p in paths] == [b"a", b"b", b"c"]
