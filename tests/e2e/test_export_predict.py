"""The export serves with saved_model_cli; predict.py prints tables, CSV and JSON; the report; bad input."""

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image
from support import one_error_line, run_script

from estimators.serving import receivers as serving

pytestmark = pytest.mark.large


@pytest.fixture(scope="module")
def digit_pngs(digits_builder, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pngs")
    ds = digits_builder.as_dataset(split="test[:6]", as_supervised=True)
    labels = []
    for i, (image, label) in enumerate(tfds.as_numpy(ds)):
        Image.fromarray(image[..., 0]).save(folder / f"digit_{i}.png")
        labels.append(int(label))
    return folder, labels


def test_saved_model_cli_runs_the_float_signature(trained_digits, tmp_path):
    images = np.zeros((2, 8, 8, 1), np.float32)
    np.save(tmp_path / "images.npy", images)
    cli = Path(sys.executable).parent / "saved_model_cli"
    result = subprocess.run(
        [
            str(cli),
            "run",
            "--dir",
            trained_digits.export_path,
            "--tag_set",
            "serve",
            "--signature_def",
            serving.FLOAT_SIGNATURE,
            "--inputs",
            f"images={tmp_path / 'images.npy'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Result for output key probabilities" in result.stdout
    assert "Result for output key class_names" in result.stdout


def test_report_on_the_test_split(trained_digits):
    report = json.loads((Path(trained_digits.report_dir) / "report.json").read_text())
    assert report["split"] == "test" and report["examples"] == 360
    assert report["accuracy"] == pytest.approx(trained_digits.accuracy, abs=1e-6)
    assert [c["name"] for c in report["classes"]] == [str(d) for d in range(10)]
    assert sum(sum(row) for row in report["confusion"]) == 360
    png = Path(trained_digits.report_dir) / "confusion_matrix.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_predict_script_on_a_folder(fmt, trained_digits, digit_pngs):
    folder, labels = digit_pngs
    result = run_script(
        "scripts.predict", f"--export_dir={trained_digits.export_path}", f"--images={folder}", f"--format={fmt}"
    )
    assert result.returncode == 0, result.stderr
    if fmt == "json":
        rows = json.loads(result.stdout)
        assert [Path(r["path"]).name for r in rows] == [f"digit_{i}.png" for i in range(6)]
        assert all(0.0 <= r["probability"] <= 1.0 and len(r["top"]) == 3 for r in rows)
        assert np.mean([int(r["class"]) == y for r, y in zip(rows, labels, strict=True)]) >= 0.5
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert len(rows) == 6 and set(rows[0]) == {"path", "class", "probability"}
    else:
        lines = result.stdout.strip().splitlines()
        assert lines[0].split()[:3] == ["path", "class", "probability"] and len(lines) == 7


def test_predict_script_bad_input_is_one_line(trained_digits, tmp_path):
    result = run_script(
        "scripts.predict", f"--export_dir={trained_digits.export_path}", f"--images={tmp_path}/nope.png"
    )
    assert (
        result.returncode == 2 and result.stderr.strip() == f"error: --images: no file or folder '{tmp_path}/nope.png'"
    )


@pytest.mark.parametrize("engine", ["estimator", "keras"])
def test_checkpoint_of_another_architecture_names_the_mismatch(engine, trained_digits, tfds_data_dir, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(trained_digits.model_dir, model_dir)
    result = run_script(
        "scripts.train",
        f"--data_dir={tfds_data_dir}",
        f"--model_dir={model_dir}",
        "--model=basic_cnn",
        "--image_size=32",
        f"--engine={engine}",
    )
    line = one_error_line(result, alone=True)
    if engine == "estimator":
        assert "--model_dir:" in line and "different architecture than 'basic_cnn'" in line
        assert "conv1/kernel" in line and "--overwrite_model_dir" in line
    else:
        assert "checkpoint written by --engine=estimator" in line


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model=hub", "--hub_handle=/no/such/module"], "error: --hub_handle: no SavedModel directory at"),
        (["--model=vgg16", "--image_size=32", "--weights=/no/such.h5"], "error: --weights: no weights file at"),
        (["--model=vgg16"], "error: --image_size: 'vgg16' needs images of at least 32x32; got 8x8"),
        (["--model=nasnet_mobile", "--image_size=96", "--weights=imagenet"], "224x224"),
        (["--model=small_cnn", "--fine_tune_steps=5"], "error: --fine_tune_steps: 'small_cnn' has no pretrained base"),
        (["--model=canned_dnn", "--engine=keras"], "error: --engine: 'canned_dnn' is a canned Estimator"),
    ],
)
def test_bad_model_flags_are_one_line_exit_2(args, message, tfds_data_dir, tmp_path):
    result = run_script("scripts.train", f"--data_dir={tfds_data_dir}", f"--model_dir={tmp_path}", *args)
    assert message in one_error_line(result, alone=True)


def _truncated_jpeg(image: np.ndarray) -> bytes:
    """A digit's JPEG cut in the middle of its scan data (the header is whole, the pixels are not)."""
    buffer = io.BytesIO()
    Image.fromarray(image).resize((64, 64), Image.NEAREST).save(buffer, format="JPEG", quality=95)
    data = buffer.getvalue()
    return data[: len(data) * 2 // 3]


def test_predict_script_names_each_bad_file_and_predicts_the_rest(trained_digits, digit_pngs, tmp_path):
    folder, _ = digit_pngs
    good = sorted(p.name for p in folder.iterdir())
    for name in good:
        shutil.copy(folder / name, tmp_path / name)
    (tmp_path / "cut.jpg").write_bytes(_truncated_jpeg(np.array(Image.open(folder / good[0]))))
    (tmp_path / "notes.png").write_text("not an image, whatever the name says\n")
    result = run_script(
        "scripts.predict", f"--export_dir={trained_digits.export_path}", f"--images={tmp_path}", "--format=csv"
    )
    assert result.returncode == 1, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [Path(r["path"]).name for r in rows] == good
    assert all(r["class"] in {str(d) for d in range(10)} and 0.0 <= float(r["probability"]) <= 1.0 for r in rows)
    assert "Traceback" not in result.stderr
    cut, notes, count = result.stderr.strip().splitlines()  # nothing else: no decoder chatter either
    assert cut.startswith(f"error: {tmp_path}/cut.jpg: truncated or corrupt JPEG (Invalid JPEG data"), cut
    assert notes == f"error: {tmp_path}/notes.png: not an image (not PNG, JPEG, BMP or GIF data)"
    assert count == f"error: 2 of {len(good) + 2} files not predicted (listed above)"


def test_predict_script_on_an_empty_folder_is_a_usage_error(trained_digits, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_script("scripts.predict", f"--export_dir={trained_digits.export_path}", f"--images={tmp_path}/empty")
    assert (
        one_error_line(result, alone=True)
        == f"error: --images: no .jpg/.jpeg/.png/.bmp/.gif files in '{tmp_path}/empty'"
    )
