"""The helpers every source shares: class names, what each role read, the task's labels, the tf.data options."""

from __future__ import annotations

import pytest

from common.errors import UsageError
from common.params import TEST, TRAIN, VALIDATION, DataParams
from input_fns import source_base


def test_class_names_come_from_the_flag_a_file_or_the_labels(tmp_path):
    assert source_base.class_names(None, 2) == ("0", "1", "2")
    assert source_base.class_names(None, 1, ("cat", "dog")) == ("cat", "dog")
    assert source_base.class_names(" a, b ,c", 2) == ("a", "b", "c")
    names = tmp_path / "names.txt"
    names.write_text("red\n\ngreen\n")
    assert source_base.class_names(str(names), 1) == ("red", "green")
    with pytest.raises(UsageError, match=r"^--class_names: 2 names but labels go up to 2$"):
        source_base.class_names("a,b", 2)


def test_a_role_without_its_own_data_is_described_as_carved_off_training():
    data = DataParams(val_fraction=0.25)
    named = {TRAIN: "train.csv", VALIDATION: None, TEST: "test.csv"}
    assert source_base.described([TRAIN, VALIDATION, TEST], named, data) == {
        TRAIN: "train.csv",
        VALIDATION: "the last 25% of the training data",
        TEST: "test.csv",
    }


def test_role_files_are_the_roles_that_name_files():
    data = DataParams(train_files="a*.csv", test_files="t.csv")
    assert source_base.role_files(data) == {TRAIN: "a*.csv", TEST: "t.csv"}


def test_labels_read_is_the_task_records_labels():
    assert [source_base.labels_read(DataParams(task=t)) for t in ("classification", "regression")] == [
        "classes",
        "values",
    ]
    assert source_base.labels_read(DataParams(task="segmentation")) == "masks"
    assert source_base.labels_read(DataParams(task="forecasting")) == "windows"


def test_pipeline_options_carry_the_data_settings():
    data = DataParams(cache="memory", deterministic=False, drop_remainder=True, shuffle_buffer=7)
    options = source_base.pipeline_options(data, seed=5)
    assert (options.cache, options.deterministic, options.drop_remainder, options.shuffle_buffer, options.seed) == (
        "memory",
        False,
        True,
        7,
        5,
    )
