"""The main job end to end, as a user runs it, and its one-line usage errors."""

import re
from pathlib import Path

import pytest
from support import run_script, train

from common.names import EXPORT_DIR, LATEST_EXPORTER

pytestmark = pytest.mark.medium


def _figure(stdout: str, label: str) -> float:
    """The number on the summary line that starts with ``label`` (``global step          120``)."""
    line = next(line for line in stdout.splitlines() if line.startswith(label + " "))
    return float(line[len(label) :].split()[0])


def test_summary_of_shared_run(trained_digits):
    assert trained_digits.global_step == 300
    assert trained_digits.accuracy > 0.85
    assert trained_digits.examples_per_sec and trained_digits.examples_per_sec > 0
    assert Path(trained_digits.export_path).parent == Path(trained_digits.model_dir, EXPORT_DIR, LATEST_EXPORTER)


def test_train_script_end_to_end(tfds_data_dir, tmp_path):
    model_dir = tmp_path / "model"
    result = train(
        tfds_data_dir,
        model_dir,
        "--train_steps=120",
        "--progress_every_steps=40",
        "--eval_throttle_secs=0",
    )
    assert result.returncode == 0, result.stderr
    assert "step 40/120" in result.stdout and "examples/sec" in result.stdout and "time left" in result.stdout
    assert "test accuracy" in result.stdout
    assert _figure(result.stdout, "global step") == 120
    export_line = next(line for line in result.stdout.splitlines() if line.startswith("export"))
    assert (Path(export_line.split()[-1]) / "saved_model.pb").is_file()

    # Run again on the same model_dir: it resumes, finds max_steps reached, and still reports and exports.
    again = train(tfds_data_dir, model_dir, "--train_steps=120")
    assert again.returncode == 0, again.stderr
    assert _figure(again.stdout, "global step") == 120


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model=resnet9"], "--model"),
        (["--dataset=no_such_dataset"], "--dataset: unknown dataset 'no_such_dataset'"),
        (["--train_steps=-5"], "--train_steps"),
        (["--batch_size=abc"], "--batch_size"),
        (["--strategy=tpu_pod"], "--strategy"),
        (["positional"], "unexpected arguments"),
    ],
)
def test_bad_flags_are_one_line_exit_2(args, message, tmp_path):
    result = run_script("scripts.train", f"--model_dir={tmp_path}", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in result.stderr


def test_unwritable_model_dir_is_one_line_exit_2(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    result = run_script("scripts.train", f"--model_dir={blocker}/model")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: --model_dir:") and "not a writable directory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_download_without_network_names_the_dataset(tmp_path):
    result = run_script("scripts.train", f"--data_dir={tmp_path}", "--dataset=mnist", f"--model_dir={tmp_path}/m")
    assert result.returncode == 2
    assert "--dataset: 'mnist' is not prepared" in result.stderr and "--download" in result.stderr


def test_tpu_strategy_runs_tpu_estimator_on_cpu(tfds_data_dir, tmp_path):
    result = run_script(
        "scripts.train",
        "--strategy=tpu",
        "--engine=tpu_estimator",
        "--nouse_tpu",
        "--novalidate_data",
        f"--data_dir={tfds_data_dir}",
        f"--model_dir={tmp_path}",
        "--train_steps=60",
        "--batch_size=32",
    )
    assert result.returncode == 0, result.stderr
    # The summary's test accuracy and the report's are the same figure, over every test example.
    report = next(line for line in result.stdout.splitlines() if line.startswith("evaluation on 'test': accuracy"))
    assert report.endswith("over 360 examples")
    assert _figure(result.stdout, "test accuracy") == pytest.approx(float(report.split()[4]), abs=1e-4)
    assert re.search(r"^engine +tpu_estimator$", result.stdout, re.M)
    export_line = next(line for line in result.stdout.splitlines() if line.startswith("export"))
    assert (Path(export_line.split()[-1]) / "saved_model.pb").is_file()


def test_malformed_tf_config_is_one_line_exit_2(tmp_path):
    env = {"TF_CONFIG": '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "chief"}}'}
    result = run_script("scripts.train", f"--model_dir={tmp_path}", env=env, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: ") and "TF_CONFIG" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
