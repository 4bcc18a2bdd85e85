"""scripts/validate_data.py as a user runs it: exit statuses 0, 3 and 2, Beam options after --."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import validation_spans as spans
from support import imported_top_level, run_script

pytestmark = pytest.mark.medium

SCRIPT = "scripts.validate_data"
IN_MEMORY = "--direct_running_mode=in_memory"


@pytest.fixture(scope="module")
def span_files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("script_spans")
    return {
        "base": spans.write_tfrecord(root / "base-00000-of-00002.tfrecord", spans.rows(800, seed=0)),
        "base2": spans.write_tfrecord(root / "base-00001-of-00002.tfrecord", spans.rows(800, seed=10)),
        "shifted": spans.write_tfrecord(root / "shifted.tfrecord", spans.rows(800, seed=1, shift=3.0)),
    }


def test_the_gate_does_not_import_tfds(span_files, tmp_path):
    """What validating costs above importing TFDV and Beam: TFDS (half a second) is not part of it."""
    args = [f"--data={span_files['base']}", f"--artifacts_dir={tmp_path / 'artifacts'}"]
    run = run_script(SCRIPT, *args, python_args=("-X", "importtime"))
    assert run.returncode == 0, run.stderr[-2000:]
    imported = imported_top_level(run.stderr)
    assert "tensorflow_data_validation" in imported  # the log was read
    assert "tensorflow_datasets" not in imported


def test_exit_statuses_clean_drift_allowed(span_files, tmp_path):
    artifacts = tmp_path / "artifacts"
    # The multi-process DirectRunner (worker processes), with one worker to stay light.
    base_glob = str(span_files["base"].parent / "base-*-of-00002.tfrecord")
    args = [
        f"--data={base_glob}",
        f"--artifacts_dir={artifacts}",
        "--direct_running_mode=multi_processing",
        "--direct_num_workers=1",
        "--progress_every_rows=400",
    ]
    clean = run_script(SCRIPT, *args)
    assert clean.returncode == 0, clean.stderr
    # The worker's progress line: rows, the total estimated from the first file's first megabyte
    # (800 rows there, two files), a rate and the time left.
    line = r"^  \[data worker \d+\] rows decoded (\d+)/~(\d+) \(\d+%\)  [\d,.]+ rows/(?:sec|min)  time left \d+:\d\d$"
    progress = re.findall(line, clean.stdout, re.M)
    assert progress and progress[-1][0] == "1600" and abs(int(progress[-1][1]) - 1600) <= 16, clean.stdout
    assert "multi_processing, 1 worker(s)" in clean.stdout
    assert "span 0 (TRAINING): CLEAN" in clean.stdout and "2 tfrecord file(s)" in clean.stdout
    assert (artifacts / "schema.pbtxt").is_file()

    # The default, auto, runs a span this small in this process.
    drift = run_script(SCRIPT, f"--data={span_files['shifted']}", f"--artifacts_dir={artifacts}")
    assert drift.returncode == 3, drift.stderr
    assert re.search(r"DirectRunner \(in_memory, 1 worker\(s\)\); auto: [\d.]+ MiB of input < \d+ MiB", drift.stdout)
    assert "span 1 (TRAINING): REFUSED" in drift.stdout
    assert any(line.startswith("drift  x") for line in drift.stdout.splitlines()), drift.stdout
    assert "exit status 3" in drift.stdout
    assert (artifacts / "spans" / "span-1" / "report.html").is_file()

    # Beam options after --, and the refusal waived: recorded in result.json. The refused attempt used no
    # span number up: the span number is only for accepted spans, so this attempt is span 1 again.
    allowed = run_script(
        SCRIPT,
        f"--data={span_files['shifted']}",
        f"--artifacts_dir={artifacts}",
        "--allow_anomalies",
        "--",
        IN_MEMORY,
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "in_memory, 1 worker(s)" in allowed.stdout and "allowed by --allow_anomalies" in allowed.stdout
    assert "span 1 (TRAINING): NOT CLEAN" in allowed.stdout, allowed.stdout
    recorded = json.loads((artifacts / "spans" / "span-1" / "result.json").read_text())
    assert recorded["allowed_despite_findings"] and recorded["previous_span"] == 0 and recorded["span"] == 1
    assert sorted(p.name for p in (artifacts / "spans").iterdir()) == ["span-0", "span-1"]


@pytest.mark.parametrize(
    "args,message",
    [
        ([], "--data: give the data to validate"),
        (["--data=/no/such/dir/*.tfrecord"], "--data: '/no/such/dir/*.tfrecord' matches no file"),
        (["--data=x", "--drift_thresholds=x"], "--drift_thresholds: 'x' is not feature=value"),
    ],
)
def test_bad_flags_are_one_line_exit_2(args, message, tmp_path):
    result = run_script(SCRIPT, f"--artifacts_dir={tmp_path}", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]


def test_zero_rows_is_an_error_not_a_clean_result(tmp_path):
    empty = spans.write_tfrecord(tmp_path / "empty.tfrecord", [])
    result = run_script(SCRIPT, f"--data={empty}", f"--artifacts_dir={tmp_path / 'a'}", IN_MEMORY)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --data: 1 file(s) matched but hold zero")
    assert "CLEAN" not in result.stdout
