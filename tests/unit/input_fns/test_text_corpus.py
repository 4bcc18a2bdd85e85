"""The text_corpus source: the training text's vocabulary, examples shifted by one, the parts, the embedded corpus."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import UsageError
from common.params import TEST, TRAIN, VALIDATION, DataParams
from input_fns import pipeline_ops, text_corpus
from input_fns.pipeline_ops import DEFAULT_OPTIONS, InputRequest


def _data(**kw) -> DataParams:
    return DataParams(source="text_corpus", task="language_model", **kw)


def test_labels_are_the_inputs_shifted_by_one_and_the_vocabulary_is_the_training_texts(tmp_path):
    train, test = tmp_path / "train.txt", tmp_path / "test.txt"
    train.write_text("abcabcabcabcabcabcabcabcabcab\n", encoding="utf-8")
    test.write_text("abczabcabc", encoding="utf-8")  # 'z' is in no training text
    meta, factory = text_corpus.open(
        _data(train_files=str(train), test_files=str(test), sequence_length=4, val_fraction=0.2), 0, DEFAULT_OPTIONS
    )
    # The newline falls in the carved validation part (the last 20%): not in the vocabulary.
    assert meta.class_names == (text_corpus.UNKNOWN, "a", "b", "c")
    assert meta.split_sizes == {TRAIN: 5, VALIDATION: 1, TEST: 2}  # 24 | 6 | 10 characters, 4 a sequence and 1
    features, labels = next(iter(factory(TEST, InputRequest(pipeline_ops.EVALUATE, 8))()))
    chars = features[text_corpus.CHARS_INPUT].numpy()
    np.testing.assert_array_equal(chars, [[1, 2, 3, 0], [1, 2, 3, 1]])  # 'z' is the unknown, id 0
    np.testing.assert_array_equal(labels.numpy(), [[2, 3, 0, 1], [2, 3, 1, 2]])
    assert meta.split_names[VALIDATION].startswith("the last 20% of ")


def test_a_char_name_is_one_line_and_names_its_char_back():
    for char in ("a", " ", "\n", "\t", "é", "\u200b"):
        name = text_corpus.char_name(char)
        assert "\n" not in name and name.strip() == name and text_corpus.name_char(name) == char
    assert text_corpus.name_char(text_corpus.UNKNOWN) == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "holds no text"),
        (b"ok\n\n\x80\n", r"line 3: byte 0x80 is not UTF-8"),
    ],
)
def test_empty_or_not_utf8_is_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=rf"^--train_files: '{path}' {message}"):
        text_corpus.open(_data(train_files=str(path)), 0, DEFAULT_OPTIONS)


def test_a_text_shorter_than_one_example_is_refused(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("x" * 50)
    with pytest.raises(UsageError, match=r"^--sequence_length: the validation text .* holds 10 characters"):
        text_corpus.open(_data(train_files=str(path), sequence_length=20), 0, DEFAULT_OPTIONS)


def test_the_embedded_corpus_is_cut_at_topics_into_three_parts(tmp_path):
    paths = text_corpus.embedded_files(str(tmp_path))
    texts = {role: open(p, encoding="utf-8").read() for role, p in paths.items()}  # noqa: SIM115
    sizes = {role: len(t) for role, t in texts.items()}
    total = sum(sizes.values())
    assert 0.75 < sizes[TRAIN] / total < 0.85 and min(sizes.values()) > 20_000, sizes
    assert all(t.endswith("\n\n") for t in texts.values())
    assert text_corpus.embedded_files(str(tmp_path)) == paths  # written once
