"""The csv source opened on its own: class labels or values, as the task's labels say."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import UsageError
from common.params import FEATURES, TRAIN, VALIDATION, DataParams
from input_fns import csv_source
from input_fns.pipeline_ops import DEFAULT_OPTIONS, EVALUATE, InputRequest


@pytest.fixture()
def table(tmp_path) -> str:
    path = tmp_path / "rows.csv"
    rows = ["size,weight,label"] + [f"{i},{i * 2.5},{'big' if i % 2 else 'small'}" for i in range(20)]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def test_classes_are_the_label_values_and_every_role_is_sized(table):
    meta, factory = csv_source.open(DataParams(source="csv", train_files=table), 0, DEFAULT_OPTIONS)
    assert (meta.kind, meta.class_names, meta.features) == (FEATURES, ("big", "small"), (("size", 1), ("weight", 1)))
    assert meta.split_sizes == {TRAIN: 16, VALIDATION: 4}
    assert meta.split_names[VALIDATION] == "the last 20% of the training data"
    features, labels = next(iter(factory(VALIDATION, InputRequest(EVALUATE, 4))()))
    assert set(features) == {"size", "weight"} and labels.dtype.name == "int64"


def test_a_task_reading_values_gets_the_numbers(tmp_path):
    path = tmp_path / "values.csv"
    path.write_text("x,y\n" + "".join(f"{i},{i * 0.5}\n" for i in range(10)))
    data = DataParams(source="csv", task="regression", train_files=str(path), label_key="y")
    meta, factory = csv_source.open(data, 0, DEFAULT_OPTIONS)
    assert meta.class_names == ()
    _, labels = next(iter(factory(TRAIN, InputRequest(EVALUATE, 8))()))
    assert labels.dtype.name == "float32" and np.all(np.mod(labels.numpy(), 0.5) == 0)


def test_no_training_rows_is_one_usage_error():
    with pytest.raises(UsageError, match=r"^--train_files: not set; the csv source reads its training rows from it$"):
        csv_source.open(DataParams(source="csv"), 0, DEFAULT_OPTIONS)
