"""The flag layer, through the commands: groups in --helpfull, the script's own flags in --helpshort,
each flag defined once, no TensorFlow for commands that need none, bad values refused at parsing."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from support import REPO_ROOT, one_error_line, run_script

pytestmark = pytest.mark.medium

TRAIN_GROUPS = ("_data", "_model", "_training", "_distribution", "_output", "_gate")


@pytest.mark.parametrize(
    "imports",
    [
        "import scripts.launch_vertex_job",
        "import scripts.launch_tpu_vm",
        "from scripts.flags import _validation, _retrain",
    ],
)
def test_launchers_and_the_flag_layer_load_no_tensorflow(imports):
    code = f"import sys\n{imports}\nassert 'tensorflow' not in sys.modules, 'TensorFlow was imported'\nprint('ok')\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_helpfull_shows_the_groups_and_helpshort_the_scripts_flags():
    full = run_script("scripts.train", "--helpfull", timeout=120)  # absl exits 1 after help
    for group in TRAIN_GROUPS:
        assert f"scripts.flags.{group}:" in full.stdout
    short = run_script("scripts.train", "--helpshort", timeout=120)
    for flag in ("--model:", "--batch_size:", "--strategy:", "--test_split:", "--[no]validate_data:"):
        assert flag in short.stdout
    vertex = run_script("scripts.launch_vertex_job", "--helpshort", timeout=60)
    assert "--display_name:" in vertex.stdout and "--job_dir:" in vertex.stdout


@pytest.mark.parametrize("script", ["scripts.train", "scripts.validate_data", "scripts.retrain"])
def test_allow_anomalies_is_defined_once(script):
    full = run_script(script, "--helpfull", timeout=120)
    assert len(re.findall(r"--\[no\]allow_anomalies:", full.stdout)) == 1
    assert "scripts.flags._gate:" in full.stdout


@pytest.mark.parametrize(
    "flag,message",
    [
        ("--learning_rate=nan", "--learning_rate=nan: must be a finite number above 0"),
        ("--learning_rate=-1", "--learning_rate=-1.0: must be a finite number above 0"),
        ("--batch_size=1000000000000", "--batch_size=1000000000000: 1000000000000 is not an integer in the range"),
        ("--hidden_units=64,x", "must be a comma-separated list of positive layer sizes"),
        ("--val_fraction=1", "--val_fraction=1.0: must be between 0 and 1"),
    ],
)
def test_bad_values_are_refused_while_parsing(flag, message):
    result = run_script("scripts.train", flag, timeout=120)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


# The int32 and finite rules of scripts/cli.py, at their edges: counts end in int32 fields, and an infinite
# threshold silently turns its check off.
INT32_MAX = 2**31 - 1


def test_the_largest_int32_is_a_usable_count(tmp_path, tfds_data_dir):
    proc = run_script(
        "scripts.train",
        f"--data_dir={tfds_data_dir}",
        f"--model_dir={tmp_path / 'model'}",
        "--train_steps=2",
        "--noreport",
        "--novalidate_data",
        f"--keep_checkpoint_max={INT32_MAX}",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list((tmp_path / "model").glob("model.ckpt-2.index"))


@pytest.mark.parametrize("value", [INT32_MAX + 1, -(INT32_MAX + 1), 2**63 - 1])
def test_one_past_int32_is_refused_while_parsing(value, tmp_path):
    flag = "--seed" if value < 0 else "--keep_checkpoint_max"  # --seed: the one without a lower bound
    proc = run_script("scripts.train", f"--model_dir={tmp_path / 'model'}", f"{flag}={value}", timeout=120)
    error = one_error_line(proc)
    assert f"{flag}={value}" in error and "at most 2,147,483,647" in error, error
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "+inf", "Infinity"])
def test_non_finite_thresholds_are_refused(value, tmp_path):
    proc = run_script(
        "scripts.validate_data",
        f"--data={tmp_path}/*.csv",
        f"--artifacts_dir={tmp_path / 'artifacts'}",
        f"--numeric_drift_threshold={value}",
        timeout=120,
    )
    error = one_error_line(proc)
    assert "--numeric_drift_threshold=" in error and "must be a finite number" in error, error
    assert not (tmp_path / "artifacts").exists()


def test_per_feature_thresholds_must_be_finite(tmp_path):
    proc = run_script(
        "scripts.validate_data",
        f"--data={tmp_path}/*.csv",
        f"--artifacts_dir={tmp_path / 'artifacts'}",
        "--drift_thresholds=age=inf",
        timeout=120,
    )
    error = one_error_line(proc)
    assert "--drift_thresholds" in error and "finite" in error, error


def test_the_largest_finite_threshold_passes_the_rule(tmp_path):
    # Accepted at parsing: the one error is about the (empty) data, not the threshold.
    proc = run_script(
        "scripts.validate_data",
        f"--data={tmp_path}/*.csv",
        f"--artifacts_dir={tmp_path / 'artifacts'}",
        "--numeric_drift_threshold=1.7976931348623157e308",
        timeout=120,
    )
    error = one_error_line(proc)
    assert "--data" in error and "threshold" not in error, error


def test_each_validate_data_flag_reaches_the_gates_config():
    code = (
        "from absl import flags\n"
        "from scripts.flags import _validation\n"
        "_validation.define_validation_flags()\n"
        "flags.FLAGS(['validate_data', '--data=a.csv', '--artifacts_dir=art', '--span=4', '--label_feature=',\n"
        "             '--numeric_drift_threshold=0.5', '--categorical_skew_threshold=0.25', '--skew_thresholds=age=0.3',\n"
        "             '--direct_num_workers=3', '--nosemantic_domain_stats'])\n"
        "print(repr(_validation.validation_config_from_flags(('--x=1',))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    config = result.stdout
    for field in ("data=('a.csv',)", "artifacts_dir='art'", "span=4", "label=None", "semantic_domain_stats=False"):
        assert field in config, config
    for field in ("numeric_drift=0.5", "categorical_drift=0.1", "categorical_skew=0.25", "(('age', 0.3),)"):
        assert field in config, config
    assert "beam_args=('--x=1',)" in config and "direct_num_workers=3" in config, config
