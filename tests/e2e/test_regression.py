"""Regression through the front door: the embedded diabetes TFDS dataset and a CSV with a numeric target.

Each engine trains the DNN once (module fixtures); the report must beat the
baseline that predicts the training mean, the export takes raw feature values
(its graph standardises them), and scripts.predict --rows prints the values
the report holds for the same rows.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from support import (
    finished_run,
    latest_export,
    one_error_line,
    run_script,
    train_each_engine,
    train_refused,
    training_report,
)

pytestmark = pytest.mark.medium

STEPS = ("--train_steps=400", "--batch_size=32", "--learning_rate=0.01", "--eval_throttle_secs=0")
REGRESSION = ("--task=regression", "--model=dnn", *STEPS)


@pytest.fixture(scope="module")
def diabetes_runs(tfds_data_dir, tmp_path_factory):
    """One run per engine on the embedded diabetes dataset: (engine -> (model_dir, completed process))."""
    make_dir = lambda engine: tmp_path_factory.mktemp(f"diabetes_{engine}")  # noqa: E731
    return train_each_engine(tfds_data_dir, make_dir, "--dataset=diabetes", *REGRESSION, "--overwrite_model_dir")


@pytest.fixture(scope="module")
def diabetes_csv(tmp_path_factory) -> dict[str, Path]:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(scaled=False, as_frame=True).frame
    root = tmp_path_factory.mktemp("diabetes_csv")
    paths = {"train": root / "train.csv", "test": root / "test.csv"}
    frame.iloc[:340].to_csv(paths["train"], index=False)
    frame.iloc[340:].to_csv(paths["test"], index=False)
    return paths


@pytest.mark.parametrize("engine", ["estimator", "keras"])
def test_diabetes_beats_the_mean_baseline_and_reports_it(diabetes_runs, engine):
    model_dir, run, report = finished_run(diabetes_runs, engine)
    assert report["examples"] == 89 and report["split"] == "test"
    # Predicting the training mean for everyone scores ~59 here; the DNN must learn from the features.
    assert report["mae"] < 0.85 * report["baseline_mae"], report
    assert f"mae {report['mae']:.4f} over 89 examples (baseline {report['baseline_mae']:.4f}" in run.stdout
    # The summary's test figure is the report's, over every example (not the Estimator's per-batch mean).
    assert f"test mae             {report['mae']:.4f}" in run.stdout
    assert "validation mae" in run.stdout and "accuracy" not in run.stdout
    for name in ("predictions.png", "curves.png", "report.html"):
        assert (model_dir / "report" / name).stat().st_size > 1000, name
    curves = json.loads((model_dir / "report" / "curves.json").read_text())
    assert curves["series"]["validation"]["mae"], "the learning curves plot the task's metric"


def test_both_engines_export_a_signature_that_takes_raw_values(diabetes_runs, tfds_data_dir, tmp_path):
    """scripts.predict --rows on the raw test rows prints the report's predictions, for either engine's export."""
    from input_fns import tfds_source

    builder = tfds_source.load_builder("diabetes", tfds_data_dir)
    rows = tfds_source._read_columns(builder, "test")  # noqa: SLF001  (the raw values, as stored)
    path = tmp_path / "test_rows.csv"
    names = [n for n in rows if n != "target"]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*names, "target"])
        writer.writerows(zip(*(rows[n] for n in [*names, "target"]), strict=True))
    for engine, (model_dir, _) in diabetes_runs.items():
        out = run_script(
            "scripts.predict", f"--export_dir={latest_export(model_dir)}", f"--rows={path}", "--format=json"
        )
        assert out.returncode == 0, out.stderr[-3000:]
        predicted = [row["prediction"] for row in json.loads(out.stdout)]
        report = training_report(model_dir)
        np.testing.assert_allclose(predicted, report["predicted"], rtol=1e-4, err_msg=engine)
        assert "columns not read (the model does not take them): target" in out.stderr


def test_csv_with_a_numeric_target_trains_and_predicts(diabetes_csv, tmp_path):
    model_dir = tmp_path / "csv"
    args = ["--source=csv", f"--train_files={diabetes_csv['train']}", f"--test_files={diabetes_csv['test']}"]
    out = run_script("scripts.train", *args, "--label_key=target", *REGRESSION, f"--model_dir={model_dir}")
    assert out.returncode == 0, out.stderr[-3000:]
    report = training_report(model_dir)
    assert report["examples"] == 102 and report["mae"] < report["baseline_mae"]
    table = run_script("scripts.predict", f"--export_dir={latest_export(model_dir)}", f"--rows={diabetes_csv['test']}")
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["line", "prediction"] and len(lines) == 103, table.stdout[:500]
    assert [float(line.split()[1]) for line in lines[1:4]] == pytest.approx(report["predicted"][:3], rel=1e-3)


def test_a_target_that_is_not_numeric_is_named_by_file_and_line(diabetes_csv, tmp_path):
    bad = tmp_path / "bad.csv"
    lines = diabetes_csv["train"].read_text().splitlines()
    lines[7] = ",".join([*lines[7].split(",")[:-1], "high"])
    bad.write_text("\n".join(lines) + "\n")
    model_dir = tmp_path / "never"
    out = run_script(
        "scripts.train",
        "--source=csv",
        f"--train_files={bad}",
        "--label_key=target",
        *REGRESSION,
        f"--model_dir={model_dir}",
    )
    one_error_line(out, "--label_key", str(bad), "line 8", "'high'", "not a number")
    assert not model_dir.exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--task=regression",), ("--task", "'small_cnn'", "models that do: dnn")),
        (("--task=regression", "--model=dnn", "--source=image_folder", "--image_dir=x"), ("--task", "csv or tfds")),
        (("--task=regression", "--model=dnn"), ("--task", "'digits' is an image dataset")),
        (
            (
                "--dataset=diabetes",
                "--task=regression",
                "--model=dnn",
                "--early_stopping_steps=10",
                "--early_stopping_metric=accuracy",
            ),
            ("--early_stopping_metric", "not a regression metric", "mae, loss"),
        ),
        (("--dataset=diabetes", "--model=dnn"), ("--task", "is a number, not a class", "--task=regression")),
    ],
    ids=["model", "source", "image_dataset", "early_stopping_metric", "classification_on_a_number"],
)
def test_regression_misfits_are_one_line_usage_errors(tfds_data_dir, tmp_path, args, words):
    line = train_refused(tfds_data_dir, tmp_path, *args)
    assert all(word in line for word in words), line


def test_predict_rows_names_a_missing_column_and_a_bad_value(diabetes_runs, tmp_path):
    export = latest_export(diabetes_runs["estimator"][0])
    missing = tmp_path / "missing.csv"
    missing.write_text("age,sex\n50,1\n")
    one_error_line(
        run_script("scripts.predict", f"--export_dir={export}", f"--rows={missing}"), "--rows", "lacks the columns"
    )
    header = "age,sex,bmi,bp,s1,s2,s3,s4,s5,s6"
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{header}\n50,1,25,90,200,100,50,4,4.5,90\n50,1,n/a,90,200,100,50,4,4.5,90\n")
    one_error_line(
        run_script("scripts.predict", f"--export_dir={export}", f"--rows={bad}"), "line 3", "'bmi'", "not a number"
    )
    both = run_script("scripts.predict", f"--export_dir={export}", f"--rows={bad}", "--images=x.png")
    assert both.returncode != 0 and "exactly one of --images, --rows" in both.stderr
