"""Skipping an unchanged span costs little more than reading the registry: no TensorFlow, no Beam.

The skip is driven through ``python -m scripts.retrain`` as cron runs it; ``-X importtime``
names every module the child imported, so a module-level TensorFlow import anywhere on the
path (flags, the retraining flow, its helpers) shows up here.
"""

from __future__ import annotations

import pytest
from support import imported_top_level, run_script
from test_retraining_flow import add_span, last_line, retrain_args, write_digits

pytestmark = pytest.mark.medium

HEAVY = ("tensorflow", "apache_beam", "tensorflow_data_validation")


def test_unchanged_span_is_skipped_without_importing_tensorflow(tmp_path):
    add_span(tmp_path, write_digits(tmp_path / "all" / "span-1", range(300, 500)))
    holdout = write_digits(tmp_path / "holdout", range(0, 100))
    args = retrain_args(tmp_path, holdout, "--bless_floor=0", train_steps=10)
    first = run_script("scripts.retrain", *args)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]

    again = run_script("scripts.retrain", *args, python_args=("-X", "importtime"), timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "span span-1 already trained by run 1" in last_line(again) and "skipped" in last_line(again)
    imported = imported_top_level(again.stderr)
    assert "absl" in imported  # the log was read: the script's own imports are in it
    assert not imported & set(HEAVY), f"the skip imported {sorted(imported & set(HEAVY))}"
