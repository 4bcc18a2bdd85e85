"""The "texts" format: folders of .txt files, root/<class>/<file>.txt, the class folder being the label.

What TFDV gives a text feature, it gets here through three features per file:
``tokens`` (the file's tokens, as the model's TextVectorization standardises and
splits them: TFDV's string statistics give the vocabulary, the most frequent
tokens and, span to span, drift on the token distribution), ``token_count``
(numeric statistics of the lengths) and ``oov_rate`` (the share of the file's
tokens outside the vocabulary the trainer would adapt on this input, its
``MAX_TOKENS`` most frequent). Every file is read when the input is resolved, with
the trainer's own check (input_fns.text_source): an empty file, bytes that are not
UTF-8 or a file that is not .txt is one usage error naming the file and line.
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Iterator

import apache_beam as beam
import tensorflow as tf

from input_fns import text_source
from input_fns.text_files import read_text
from pipeline.validation.readers import examples
from pipeline.validation.readers.base import InputSpec, Read, Reader, ReadOptions, Request

FORMAT = "texts"
TOKENS_FEATURE, COUNT_FEATURE, OOV_FEATURE = "tokens", "token_count", "oov_rate"
TEXT_BATCH_SIZE = 500
_PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}]")


def tokens(text: str) -> list[str]:
    """TextVectorization's default standardisation (lower case, punctuation stripped), split on whitespace."""
    return _PUNCTUATION.sub("", text.lower()).split()


def _resolve(request: Request, files: tuple[str, ...]) -> InputSpec:
    """root/<class>/<file>.txt; every file is read and checked now (``files`` is unused: the patterns are folders)."""
    listed: list[str] = []
    labels: list[str] = []
    for root in request.patterns:
        classes = text_source.class_folders(root, request.flag)
        for path, label in text_source.text_files(root, classes, request.flag):
            read_text(path, request.flag)
            listed.append(path)
            labels.append(classes[label])
    return InputSpec(request.role, request.flag, FORMAT, request.patterns, tuple(listed), image_labels=tuple(labels))


def vocabulary(spec: InputSpec) -> frozenset[str]:
    """The ``MAX_TOKENS`` most frequent tokens of ``spec``'s files, less the trainer's padding and unknown entries."""
    counts = collections.Counter(t for path in spec.files for t in tokens(read_text(path, "text_dir")))
    return frozenset(token for token, _ in counts.most_common(text_source.MAX_TOKENS - 2))


class _TextToExample(beam.DoFn):
    """(path, class) -> a serialized tf.Example: its tokens, their count, its out-of-vocabulary rate, its label."""

    def __init__(self, label_feature: str, known: frozenset[str]):
        self._label_feature = label_feature
        self._known = known

    def process(self, item: tuple[str, str]) -> Iterator[bytes]:
        path, label = item
        words = tokens(read_text(path, "text_dir"))
        oov = sum(word not in self._known for word in words) / len(words) if words else 0.0
        feature = {
            TOKENS_FEATURE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[w.encode() for w in words])),
            COUNT_FEATURE: tf.train.Feature(int64_list=tf.train.Int64List(value=[len(words)])),
            OOV_FEATURE: tf.train.Feature(float_list=tf.train.FloatList(value=[oov])),
            self._label_feature: tf.train.Feature(bytes_list=tf.train.BytesList(value=[label.encode()])),
        }
        yield tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _read(pipeline: beam.Pipeline, spec: InputSpec, options: ReadOptions) -> Read:
    # Every file was checked when resolved: the texts have no bad output.
    to_example = _TextToExample(options.label or "label", vocabulary(spec))
    return examples.from_folder_files(pipeline, spec, "Texts", to_example, TEXT_BATCH_SIZE)


READER = Reader(
    format=FORMAT,
    reads_folders=True,
    claims=lambda path: False,  # folders are named with --data_format=texts, not claimed by file name
    resolve=_resolve,
    read=_read,
    estimated_rows=lambda spec: len(spec.files),  # one row per file
    exact_rows=True,
)
