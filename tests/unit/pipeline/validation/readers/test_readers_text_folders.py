"""The gate's text reader: the trainer's tokens, every file checked when resolved, and a tf.Example per file."""

from __future__ import annotations

import pytest
import tensorflow as tf

from common.errors import UsageError
from pipeline.validation.readers import text_folders
from pipeline.validation.readers.base import Request


def _request(root) -> Request:
    return Request((str(root),), "data", "data", ",")


def test_tokens_are_the_trainers():
    sample = "The plot, I'd say, was NOT dull!  Superb."
    layer = tf.keras.layers.TextVectorization(output_mode="int")
    layer.adapt([sample])
    expected = [layer.get_vocabulary()[i] for i in layer([sample]).numpy()[0]]
    assert text_folders.tokens(sample) == expected


def test_every_file_is_read_when_resolved_and_a_bad_one_is_named(tmp_path):
    for name, data in {"neg/a.txt": b"dull plot", "pos/b.txt": b"superb plot"}.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    spec = text_folders.READER.resolve(_request(tmp_path), ())
    assert spec.format == "texts" and spec.image_labels == ("neg", "pos") and len(spec.files) == 2
    assert text_folders.vocabulary(spec) == {"dull", "superb", "plot"}
    (tmp_path / "pos" / "c.txt").write_bytes(b"ok\n\xc3\x28\n")
    with pytest.raises(UsageError, match=r"^--data: '.*c.txt' line 2: byte 0xc3 is not UTF-8"):
        text_folders.READER.resolve(_request(tmp_path), ())


def test_an_example_carries_tokens_count_and_out_of_vocabulary_rate(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("the plot was dull")
    (record,) = text_folders._TextToExample("label", frozenset({"the"})).process((str(path), "neg"))
    features = tf.train.Example.FromString(record).features.feature
    assert list(features["tokens"].bytes_list.value) == [b"the", b"plot", b"was", b"dull"]
    assert features["token_count"].int64_list.value == [4] and features["oov_rate"].float_list.value == [0.75]
    assert features["label"].bytes_list.value == [b"neg"]
