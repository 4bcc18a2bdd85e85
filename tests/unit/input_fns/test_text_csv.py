"""CSV text columns: every row read and checked, the classes the training rows' values, the vocabulary the
training role's only (the text_folder source's own, through text_source.opened)."""

from __future__ import annotations

import pytest

from common.errors import UsageError
from common.params import TEST, TEXT, TRAIN, VALIDATION, DataParams
from input_fns import sources


def _csv(path, rows: list[tuple[str, str]]) -> str:
    path.write_text("text;label\n" + "".join(f"{text};{label}\n" for text, label in rows), encoding="utf-8")
    return str(path)


def _params(**given) -> DataParams:
    return DataParams(source="csv", task="text_classification", text_key="text", csv_separator=";", **given)


def test_rows_become_the_text_source_with_the_training_vocabulary(tmp_path):
    train = _csv(tmp_path / "train.csv", [(f"common p{i}", "pos" if i % 2 else "neg") for i in range(10)])
    test = _csv(tmp_path / "test.csv", [("testonly words", "neg"), ("common", "pos")])
    meta = sources.make_source(_params(train_files=train, test_files=test), seed=0).meta
    assert meta.kind == TEXT and meta.class_names == ("neg", "pos") and meta.gate_format == "csv"
    assert meta.split_sizes == {TRAIN: 8, VALIDATION: 2, TEST: 2}
    assert meta.vocabulary[0] == "common" and "testonly" not in meta.vocabulary
    assert len([t for t in meta.vocabulary if t.startswith("p")]) == 8  # the carved rows' words are not in it


def test_a_class_the_training_rows_do_not_have_is_named_with_its_line(tmp_path):
    train = _csv(tmp_path / "train.csv", [("a", "neg"), ("b", "pos"), ("c", "neg"), ("d", "pos"), ("e", "neg")])
    test = _csv(tmp_path / "test.csv", [("a", "neg"), ("b", "meh")])
    with pytest.raises(UsageError, match=r"^--test_files: '.*test.csv' line 3: class 'meh' is not a class"):
        sources.make_source(_params(train_files=train, test_files=test), seed=0)


def test_one_class_is_refused(tmp_path):
    train = _csv(tmp_path / "train.csv", [("a", "neg"), ("b", "neg"), ("c", "neg")])
    with pytest.raises(UsageError, match=r"^--train_files: the training rows have 1 class\(es\); allowed: two"):
        sources.make_source(_params(train_files=train), seed=0)
