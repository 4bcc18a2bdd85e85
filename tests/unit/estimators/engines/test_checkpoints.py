"""A truncated newest checkpoint: training falls back to the previous one, with a warning."""

import io
import os
import shutil

import pytest
import tensorflow as tf

from common.errors import KestrelError
from estimators.engines import checkpoints

pytestmark = pytest.mark.medium


@pytest.fixture()
def model_dir(trained_digits, tmp_path):
    """A copy of the shared run's model_dir (checkpoints at steps 0..300)."""
    target = tmp_path / "model"
    shutil.copytree(trained_digits.model_dir, target)
    return str(target)


def _truncate_data_files(prefix: str) -> None:
    for path in tf.io.gfile.glob(prefix + ".data-*"):
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size // 3)


def test_healthy_model_dir_resumes_from_newest(model_dir):
    newest = tf.train.latest_checkpoint(model_dir)
    assert checkpoints.resume_point(model_dir) == newest
    assert not os.path.exists(os.path.join(model_dir, checkpoints.QUARANTINE_DIR))


def test_truncated_newest_falls_back_with_warning(model_dir):
    state = tf.train.get_checkpoint_state(model_dir)
    newest, previous = state.all_model_checkpoint_paths[-1], state.all_model_checkpoint_paths[-2]
    _truncate_data_files(newest)
    assert not checkpoints.is_readable(newest)

    warnings = io.StringIO()
    assert checkpoints.resume_point(model_dir, warnings) == previous
    assert "unreadable" in warnings.getvalue() and os.path.basename(previous) in warnings.getvalue()
    # The Estimator now restores the previous checkpoint; the bad one is kept aside, not deleted.
    assert tf.train.latest_checkpoint(model_dir) == previous
    quarantined = os.listdir(os.path.join(model_dir, checkpoints.QUARANTINE_DIR))
    assert any(name.startswith(os.path.basename(newest)) for name in quarantined)


def test_no_readable_checkpoint_is_an_error_not_a_fresh_start(model_dir):
    for prefix in tf.train.get_checkpoint_state(model_dir).all_model_checkpoint_paths:
        _truncate_data_files(prefix)
    with pytest.raises(KestrelError, match="no readable checkpoint"):
        checkpoints.resume_point(model_dir)


def test_empty_model_dir_has_no_resume_point(tmp_path):
    assert checkpoints.resume_point(str(tmp_path)) is None
