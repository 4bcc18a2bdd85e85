"""The hostile values users actually typed: each is one line naming the flag, exit 2, no traceback, no hang."""

from __future__ import annotations

import pytest
from support import run_script

pytestmark = pytest.mark.medium

CASES = {
    "batch_size_overflow": (["--batch_size=1000000000000"], "--batch_size"),
    "int32_overflow": (["--keep_checkpoint_max=1000000000000000000000000000000"], "--keep_checkpoint_max"),
    "learning_rate_nan": (["--learning_rate=nan"], "--learning_rate"),
    "cache_name_too_long": (["--cache=" + "x" * 5000], "--cache"),
    "cache_in_a_missing_folder": (["--cache=/nonexistent/folder/cache"], "--cache"),
    "data_dir_is_a_file": (["--data_dir={file}"], "--data_dir"),
    # No network here: the probe write fails at once; gfile's two-line message must come out as one.
    "model_dir_on_gcs_without_network": (["--model_dir=gs://kestrel-no-such-bucket/run"], "--model_dir"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_train_refuses_in_one_line(case, tmp_path):
    args, flag = CASES[case]
    regular = tmp_path / "a_file"
    regular.write_text("not a directory")
    args = [a.replace("{file}", str(regular)) for a in args]
    proc = run_script("scripts.train", f"--model_dir={tmp_path / 'model'}", "--train_steps=1", *args, timeout=120)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and flag in errors[0], errors[0]
    assert proc.stderr.rstrip().splitlines()[-1] == errors[0], "the error goes on past its line"
    assert regular.read_text() == "not a directory"
