"""Forecasting through the front door: the embedded climate series and a CSV of it, both engines, export, predict.

Two LSTM runs (module fixtures): the estimator engine on the embedded series
(no --train_files; the validation gate on), the keras engine on a shorter
generated CSV. Each must beat the common-sense forecast (the temperature at
the window's last row) that the report puts beside it; scripts.predict --rows
on the report's rows prints the report's forecasts; bad series are one line,
exit 2, before anything is written.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import latest_export, one_error_line, run_script, train, training_report

from input_fns import climate_series

pytestmark = pytest.mark.medium

STEPS = ("--train_steps=200", "--batch_size=64", "--eval_throttle_secs=0", "--dropout=0")
FORECAST = ("--task=forecasting", "--source=timeseries", "--model=lstm", *STEPS)
CSV_DAYS = 120  # 60 days to train, 30 to validate, 30 to test
WINDOW_ROWS, SPAN_ROWS = 715, 859  # 120 samples every 6th row; and the target 144 rows after the last


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("series") / "climate.csv"
    climate_series.generate(days=CSV_DAYS).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """engine -> (model_dir, completed process, the CSV it read): the embedded series, then that CSV named."""
    data_dir = tmp_path_factory.mktemp("embedded")
    estimator_dir, keras_dir = tmp_path_factory.mktemp("lstm_estimator"), tmp_path_factory.mktemp("lstm_keras")
    embedded = train(data_dir, estimator_dir, *FORECAST, "--engine=estimator")
    # A year, as the embedded one: on a shorter stretch the seasons shift between the parts, and 200 steps
    # of training do not carry a winter's model into spring.
    (csv,) = glob.glob(str(data_dir / "series" / "*.csv"))
    from_csv = run_script(
        "scripts.train", *FORECAST, "--engine=keras", f"--train_files={csv}", "--novalidate_data",
        f"--model_dir={keras_dir}",
    )  # fmt: skip
    return {"estimator": (estimator_dir, embedded, Path(csv)), "keras": (keras_dir, from_csv, Path(csv))}


@pytest.mark.parametrize("engine", ["estimator", "keras"])
def test_lstm_beats_the_common_sense_baseline_and_reports_both(runs, engine):
    model_dir, run, csv = runs[engine]
    assert run.returncode == 0, run.stderr[-3000:]
    report = training_report(model_dir)
    rows = len(pd.read_csv(csv))
    test_rows = rows - round(0.75 * rows)
    # Every window and its target inside the test part: none crosses the validation boundary.
    assert report["examples"] == test_rows - SPAN_ROWS + 1, report["examples"]
    assert report["split"].startswith(f"test: lines {round(0.75 * rows) + 2}-{rows + 1} of ")
    assert 2.2 < report["baseline_mae"] < 3.2, report["baseline_mae"]  # Jena's is 2.62
    assert report["mae"] < 0.95 * report["baseline_mae"], (report["mae"], report["baseline_mae"])
    assert report["horizon_hours"] == 24 and report["target"] == "T (degC)"
    assert f"mae {report['mae']:.4f} over {report['examples']} windows (common-sense baseline" in run.stdout
    assert f"test mae             {report['mae']:.4f}" in run.stdout and "accuracy" not in run.stdout
    assert "predicting test" in run.stdout and "(100%)" in run.stdout  # progress lines
    for name in ("forecasts.png", "curves.png", "report.html"):
        assert (model_dir / "report" / name).stat().st_size > 1000, name


def test_the_embedded_series_is_the_default_and_the_gate_reads_it(runs):
    model_dir, run, csv = runs["estimator"]
    assert run.returncode == 0, run.stderr[-3000:]
    assert csv.name.startswith("climate_v") and len(pd.read_csv(csv)) == 365 * 144
    assert f"validation: {365 * 144} examples clean" in run.stdout, run.stdout[-3000:]
    assert (model_dir / "validation").is_dir()


@pytest.mark.parametrize("engine", ["estimator", "keras"])
def test_export_takes_raw_windows_and_predict_rows_prints_the_reports_forecasts(runs, engine, tmp_path):
    """The test part's rows as a CSV: a forecast after each row that ends a full window, the report's first."""
    model_dir, _, csv = runs[engine]
    frame = pd.read_csv(csv)
    test = frame.iloc[round(0.75 * len(frame)) :]
    rows = tmp_path / "test_rows.csv"
    test.to_csv(rows, index=False)
    out = run_script("scripts.predict", f"--export_dir={latest_export(model_dir)}", f"--rows={rows}", "--format=json")
    assert out.returncode == 0, out.stderr[-3000:]
    forecasts = json.loads(out.stdout)
    assert len(forecasts) == len(test) - WINDOW_ROWS + 1
    first = forecasts[0]
    assert first["line"] == WINDOW_ROWS + 1  # the first row with a full window behind it
    assert pd.Timestamp(first["forecast_for"]) - pd.Timestamp(first["time"]) == pd.Timedelta(hours=24)
    report = training_report(model_dir)
    predicted = [f["forecast"] for f in forecasts[: report["examples"]]]
    np.testing.assert_allclose(predicted, report["predicted"], rtol=1e-4, atol=1e-4, err_msg=engine)
    table = run_script("scripts.predict", f"--export_dir={latest_export(model_dir)}", f"--rows={rows}")
    assert table.stdout.splitlines()[0].split() == ["line", "time", "forecast_for", "forecast"]


@pytest.mark.parametrize("model", ["dense", "conv1d", "gru"])
def test_the_other_chapter_10_models_train_and_export(series_csv, tmp_path, model):
    model_dir = tmp_path / model
    args = ["--task=forecasting", "--source=timeseries", f"--model={model}", f"--train_files={series_csv}"]
    out = run_script(
        "scripts.train", *args, "--train_steps=20", "--eval_throttle_secs=0", "--novalidate_data",
        "--dropout=0.2", f"--model_dir={model_dir}",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    report = training_report(model_dir)
    assert np.isfinite(report["mae"]) and report["baseline_mae"] > 0
    series = json.loads((Path(latest_export(model_dir)) / "assets.extra" / "series.json").read_text())
    assert series["window_steps"] == 120 and len(series["columns"]) == 14


def _broken(series_csv: Path, tmp_path: Path, edit) -> Path:
    lines = series_csv.read_text().splitlines()
    edit(lines)
    path = tmp_path / "broken.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _swap(lines: list[str]) -> None:
    lines[100], lines[101] = lines[101], lines[100]


def _gap(lines: list[str]) -> None:
    del lines[200]


def _bad_time(lines: list[str]) -> None:
    lines[300] = "soon," + lines[300].split(",", 1)[1]


def _bad_target(lines: list[str]) -> None:
    fields = lines[400].split(",")
    fields[2] = "warm"  # T (degC), after the time and the pressure
    lines[400] = ",".join(fields)


@pytest.mark.parametrize(
    ("edit", "extra", "words"),
    [
        (_swap, (), ("--time_key", "line 102", "does not come after line 101", "increasing")),
        (_gap, (), ("--time_key", "line 201", "a step of 20 min", "steps by 10 min")),
        (_bad_time, (), ("--time_key", "line 301", "'soon'", "not a time", "allowed:")),
        (_bad_target, (), ("--target_key", "line 401", "'T (degC)'", "'warm'", "not a number")),
        (None, ("--window_steps=2000",), ("--window_steps", "spans 11995 rows", "train part", "has 8640 rows")),
    ],
    ids=["not_increasing", "gap", "unparseable_time", "target_not_numeric", "window_too_long"],
)
def test_bad_series_are_one_line_usage_errors_before_anything_is_written(series_csv, tmp_path, edit, extra, words):
    path = _broken(series_csv, tmp_path, edit) if edit else series_csv
    model_dir = tmp_path / "never"
    out = run_script("scripts.train", *FORECAST, f"--train_files={path}", *extra, f"--model_dir={model_dir}")
    line = one_error_line(out, *words)
    assert str(path) in line or "window" in line
    assert not model_dir.exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--task=forecasting", "--model=lstm"), ("--task", "--source=timeseries")),
        (("--task=forecasting", "--source=timeseries"), ("--task", "'small_cnn'", "dense, conv1d, lstm, gru")),
        (("--source=timeseries", "--model=lstm"), ("--task", "'lstm' does not train for classification")),
        (
            ("--task=forecasting", "--source=timeseries", "--model=lstm", "--engine=tpu_estimator", "--nouse_tpu"),
            ("--task", "tpu_estimator trains classification"),
        ),
    ],
    ids=["source", "model", "classification", "tpu_estimator"],
)
def test_forecasting_misfits_are_one_line_usage_errors(series_csv, tmp_path, args, words):
    model_dir = tmp_path / "never"
    out = run_script("scripts.train", *args, f"--train_files={series_csv}", f"--model_dir={model_dir}")
    one_error_line(out, *words)
    assert not model_dir.exists()


def test_predict_rows_needs_a_full_window_of_the_models_columns(runs, series_csv, tmp_path):
    export = latest_export(runs["keras"][0])
    short = tmp_path / "short.csv"
    pd.read_csv(series_csv).iloc[:700].to_csv(short, index=False)
    one_error_line(run_script("scripts.predict", f"--export_dir={export}", f"--rows={short}"), "--rows", "holds 700 rows",
              "spans 715 consecutive rows")  # fmt: skip
    lacking = tmp_path / "lacking.csv"
    pd.read_csv(series_csv).iloc[:800].drop(columns=["p (mbar)"]).to_csv(lacking, index=False)
    one_error_line(run_script("scripts.predict", f"--export_dir={export}", f"--rows={lacking}"), "--rows", "p (mbar)")
    gap = _broken(series_csv, tmp_path, _gap)
    one_error_line(run_script("scripts.predict", f"--export_dir={export}", f"--rows={gap}"), "--rows", "line 201")
