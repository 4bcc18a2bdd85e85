"""The ``text_corpus`` source: plain UTF-8 text files cut into sequences of characters for a language model.

As the course's character-level model on The Time Machine: the text is read
as characters; the vocabulary is the characters of the training part only
(id 0 stands for a character it does not hold); each example is
``--sequence_length`` characters and its label the same characters shifted by
one (the next character at every position). Consecutive examples do not
overlap; only training examples are shuffled.

``--train_files`` names one or more files (comma-separated, read in order as
one text); ``--validation_files`` and ``--test_files`` name their own,
otherwise validation is the last ``--val_fraction`` of the training text and
there is no test role. Without ``--train_files`` the embedded corpus is read:
the topic texts of the Python documentation, which every CPython ships as
``pydoc_data.topics`` (real English prose and code, about 0.7 MB), written
once to ``~/.cache/kestrel/corpus/`` as train/validation/test files (80/10/10,
cut at topic boundaries) so that the gate reads what trains.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf

from common.errors import UsageError
from common.params import CHARACTERS, TEST, TRAIN, VALIDATION, DataParams
from input_fns import pipeline_ops
from input_fns.pipeline_ops import InputFn, InputRequest, PipelineOptions
from input_fns.source_base import Opened, SourceMeta
from input_fns.text_files import read_text

CHARS_INPUT = "chars"  # the model's input (character ids) and the feature of every example
UNKNOWN = "<unk>"  # the vocabulary's id 0: a character the training text does not hold
EMBEDDED_DIR = os.path.join(os.path.expanduser("~"), ".cache", "kestrel", "corpus")
EMBEDDED_NAME = "pydoc_topics"
EMBEDDED_SPLIT = (0.8, 0.1, 0.1)


def char_name(char: str) -> str:
    """A character as a one-line name (labels files hold one name a line): itself, or U+XXXX if invisible."""
    return char if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"


def name_char(name: str) -> str:
    """The character ``char_name`` named ("" for the unknown id)."""
    if name == UNKNOWN:
        return ""
    return chr(int(name[2:], 16)) if name.startswith("U+") and len(name) > 2 else name


@dataclasses.dataclass(frozen=True)
class Corpus:
    texts: dict[str, str]  # by role
    described: dict[str, str]  # by role: the files (or the part of them) it read
    files: tuple[str, ...]  # what the training role reads, for the gate
    vocabulary: tuple[str, ...]  # id -> character ("" for id 0, the unknown)

    def ids(self, role: str) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.vocabulary) if c}
        return np.fromiter((index.get(c, 0) for c in self.texts[role]), np.int32, len(self.texts[role]))


def _files(patterns: str, flag: str) -> tuple[str, ...]:
    files: list[str] = []
    for pattern in (p.strip() for p in patterns.split(",") if p.strip()):
        matched = sorted(tf.io.gfile.glob(pattern))
        if not matched:
            raise UsageError(flag, f"'{pattern}' matches no file")
        files += matched
    return tuple(files)


def embedded_files(directory: str) -> dict[str, str]:
    """The embedded corpus as train/validation/test text files in ``directory`` (written once, atomically)."""
    paths = {role: os.path.join(directory, f"{EMBEDDED_NAME}_{role}.txt") for role in (TRAIN, VALIDATION, TEST)}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    from pydoc_data import topics  # ships with CPython: the documentation's topic texts

    texts = [topics.topics[key].strip() + "\n\n" for key in sorted(topics.topics)]
    total, ends, written = sum(map(len, texts)), np.cumsum(EMBEDDED_SPLIT), 0
    parts: dict[str, list[str]] = {role: [] for role in paths}
    for text in texts:  # whole topics: no topic straddles two parts
        role = (TRAIN, VALIDATION, TEST)[min(int(np.searchsorted(ends, written / total, side="right")), 2)]
        parts[role].append(text)
        written += len(text)
    os.makedirs(directory, exist_ok=True)
    for role, path in paths.items():
        partial = f"{path}.{os.getpid()}.partial"  # a reader never sees half a file
        with tf.io.gfile.GFile(partial, "w") as f:
            f.write("".join(parts[role]))
        os.replace(partial, path)
    return paths


def load(data: DataParams) -> Corpus:
    """Read and check every role's text; the vocabulary of the training text."""
    if data.train_files:
        named = {TRAIN: data.train_files, VALIDATION: data.validation_files, TEST: data.test_files}
        flags = {TRAIN: "train_files", VALIDATION: "validation_files", TEST: "test_files"}
        files = {role: _files(p, flags[role]) for role, p in named.items() if p}
    else:
        if data.validation_files or data.test_files:
            raise UsageError("train_files", "--validation_files and --test_files need --train_files")
        embedded = embedded_files(os.path.join(data.data_dir, "corpus") if data.data_dir else EMBEDDED_DIR)
        files = {role: (path,) for role, path in embedded.items()}
        flags = {role: "train_files" for role in files}
    texts = {role: "".join(read_text(p, flags[role]) for p in paths) for role, paths in files.items()}
    described = {role: ", ".join(paths) for role, paths in files.items()}
    if VALIDATION not in texts:
        cut = int(len(texts[TRAIN]) * (1 - data.val_fraction))
        texts[TRAIN], texts[VALIDATION] = texts[TRAIN][:cut], texts[TRAIN][cut:]
        described[VALIDATION] = f"the last {data.val_fraction:.0%} of {described[TRAIN]}"
        described[TRAIN] = f"the first {1 - data.val_fraction:.0%} of {described[TRAIN]}"
    for role, text in texts.items():
        if len(text) < data.sequence_length + 1:
            raise UsageError(
                "sequence_length",
                f"the {role} text ({described[role]}) holds {len(text)} characters; an example needs "
                f"--sequence_length={data.sequence_length} and one more",
            )
    vocabulary = ("", *sorted(set(texts[TRAIN])))
    return Corpus(texts, described, files[TRAIN], vocabulary)


def open(data: DataParams, seed: int | None, options: PipelineOptions) -> Opened:
    """Every role's text as character ids, cut into examples of ``--sequence_length``."""
    if data.synthetic:
        raise UsageError("synthetic_data", "not for --source=text_corpus (its embedded corpus needs no download)")
    corpus = load(data)
    length = data.sequence_length
    ids = {role: corpus.ids(role) for role in corpus.texts}
    meta = SourceMeta(
        corpus.files[0] if len(corpus.files) == 1 else f"{len(corpus.files)} text files",
        CHARACTERS,
        (UNKNOWN, *(char_name(c) for c in corpus.vocabulary[1:])),
        {role: (len(values) - 1) // length for role, values in ids.items()},
        corpus.described,
        features=((CHARS_INPUT, length),),
        train_files=corpus.files,
        gate_format="text",
    )

    def factory(role: str, request: InputRequest) -> InputFn:
        return _input_fn(ids[role], length, request, options)

    return meta, factory


def _input_fn(ids: np.ndarray, length: int, request: InputRequest, options: PipelineOptions) -> InputFn:
    """``({"chars": [batch, length]}, next chars [batch, length])``; training examples shuffled, others in order."""
    count = (len(ids) - 1) // length
    inputs = ids[: count * length].reshape(count, length)
    targets = ids[1 : count * length + 1].reshape(count, length)

    def build(mode: str, input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices(({CHARS_INPUT: inputs}, targets))
        return pipeline_ops.finish(ds, mode, request.batch_size, options, input_context)

    return pipeline_ops.estimator_input_fn(build, request.mode)
