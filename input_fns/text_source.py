"""The ``text_folder`` source, and the TEXT source every text reader ends in (``opened``): folders of ``.txt`` files, one subfolder per class, as
``tf.keras.utils.text_dataset_from_directory`` reads them; without ``--text_dir``, the
embedded review corpus (input_fns/review_corpus.py).

Every file is read here, before training: one that is empty, is not UTF-8 or is not a
``.txt`` file is refused in one line naming it (and the line, for bad bytes), never
dropped. The vocabulary is adapted on the training role only (after validation is
carved off), and travels in ``SourceMeta.vocabulary`` to the model's own
TextVectorization layer, so the export takes raw strings.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf

from common.errors import UsageError
from common.files import list_files
from common.params import TEST, TEXT, TRAIN, VALIDATION, DataParams
from input_fns import array_source, review_corpus
from input_fns.pipeline_ops import InputFn, InputRequest, PipelineOptions
from input_fns.source_base import Opened, SourceMeta, described
from input_fns.text_files import read_text

TEXT_INPUT = "text"  # the model's input and the export's: a batch of raw strings
TEXT_EXTENSION = ".txt"
MAX_TOKENS = 20_000  # the vocabulary's size at most, padding and out-of-vocabulary tokens included


@dataclasses.dataclass(frozen=True)
class TextFolder:
    """One folder's texts, their class ids, and the files they came from."""

    texts: tuple[str, ...]
    labels: tuple[int, ...]
    files: tuple[str, ...]


def class_folders(root: str, flag: str) -> tuple[str, ...]:
    if not tf.io.gfile.isdir(root):
        raise UsageError(flag, f"'{root}' is not a directory; allowed: a folder with one subfolder of .txt per class")
    names = sorted(
        n.rstrip("/")
        for n in tf.io.gfile.listdir(root)
        if not n.startswith(".") and tf.io.gfile.isdir(os.path.join(root, n))
    )
    if len(names) < 2:
        raise UsageError(flag, f"'{root}' has {len(names)} class folder(s); allowed: two or more")
    return tuple(names)


def text_files(root: str, classes: tuple[str, ...], flag: str) -> list[tuple[str, int]]:
    """(file, class id) of every file under ``root``/<class>/; a file that is not .txt is refused, not skipped."""
    found = []
    for label, name in enumerate(classes):
        listing = list_files(os.path.join(root, name))
        for skipped in listing.skipped:
            raise UsageError(flag, f"'{skipped.shown}': {skipped.reason}; allowed: readable .txt files")
        for path in listing.files:
            if not path.endswith(TEXT_EXTENSION):
                raise UsageError(flag, f"'{path}' is not a {TEXT_EXTENSION} file; allowed: {TEXT_EXTENSION} files only")
            found.append((path, label))
    if not found:
        raise UsageError(flag, f"no {TEXT_EXTENSION} files under '{root}'/<class>/")
    return found


def read_folder(root: str, classes: tuple[str, ...], flag: str) -> TextFolder:
    """Every text under ``root``, checked; a folder with other classes than ``classes`` is refused."""
    found = class_folders(root, flag)
    if found != classes:
        raise UsageError(flag, f"'{root}' has classes {', '.join(found)}; the training data has {', '.join(classes)}")
    files = text_files(root, classes, flag)
    texts = tuple(read_text(path, flag) for path, _ in files)
    return TextFolder(texts, tuple(label for _, label in files), tuple(path for path, _ in files))


def carve(folder: TextFolder, fraction: float, seed: int) -> tuple[TextFolder, TextFolder]:
    """(train, validation): a seeded ``fraction`` of ``folder`` for validation."""
    order = np.random.default_rng(seed).permutation(len(folder.texts))
    take = max(1, int(round(len(order) * fraction)))
    parts = []
    for indices in (sorted(order[take:]), sorted(order[:take])):
        parts.append(
            TextFolder(
                tuple(folder.texts[i] for i in indices),
                tuple(folder.labels[i] for i in indices),
                tuple(folder.files[i] for i in indices),
            )
        )
    return parts[0], parts[1]


def vocabulary(texts: tuple[str, ...]) -> tuple[str, ...]:
    """The tokens of ``texts`` as TextVectorization standardises and splits them, most frequent first
    (without its padding and out-of-vocabulary entries)."""
    layer = tf.keras.layers.TextVectorization(max_tokens=MAX_TOKENS)
    layer.adapt(tf.constant(list(texts)))
    return tuple(layer.get_vocabulary()[2:])


def _roots(data: DataParams) -> tuple[str, str | None, str]:
    """(train root, test root or None, the flag that named the training root)."""
    if data.text_dir:
        return data.text_dir, data.test_dir, "text_dir"
    base = review_corpus.write_corpus(review_corpus.default_root(data.data_dir))
    return os.path.join(base, "train"), data.test_dir or os.path.join(base, "test"), "text_dir"


def open(data: DataParams, seed: int | None, options: PipelineOptions) -> Opened:
    """``--text_dir`` (``--val_dir``, ``--test_dir``) or the embedded corpus: every text read and checked."""
    if data.synthetic:
        raise UsageError("synthetic_data", "not for --source=text_folder: random tensors are no text")
    if data.text_key:
        raise UsageError("text_key", "not for --source=text_folder (a text is a file); for --source=tfds or csv")
    train_root, test_root, flag = _roots(data)
    classes = class_folders(train_root, flag)
    train = read_folder(train_root, classes, flag)
    if data.val_dir:
        splits = {TRAIN: train, VALIDATION: read_folder(data.val_dir, classes, "val_dir")}
    else:
        splits = dict(zip((TRAIN, VALIDATION), carve(train, data.val_fraction, seed or 0), strict=True))
    if test_root:
        splits[TEST] = read_folder(test_root, classes, "test_dir")
    named = {TRAIN: train_root, VALIDATION: data.val_dir, TEST: test_root}
    return opened(train_root, classes, splits, described(splits, named, data), options, train_files=(train_root,))


def opened(
    name: str,
    classes: tuple[str, ...],
    splits: dict[str, TextFolder],
    split_names: dict[str, str],
    options: PipelineOptions,
    train_files: tuple[str, ...],
    gate_format: str = "texts",
    **gate_slice,
) -> Opened:
    """The TEXT source of checked ``splits``, whatever read them (class folders, a TFDS dataset, CSV rows):
    the vocabulary adapted on the training role only, raw strings in, class ids out."""
    meta = SourceMeta(
        name,
        TEXT,
        classes,
        {role: len(folder.texts) for role, folder in splits.items()},
        split_names,
        train_files=train_files,
        gate_format=gate_format,
        vocabulary=vocabulary(splits[TRAIN].texts),
        **gate_slice,
    )

    def factory(role: str, request: InputRequest) -> InputFn:
        folder = splits[role]
        features = {TEXT_INPUT: np.array(folder.texts, dtype=object)}
        return array_source.input_fn(features, np.array(folder.labels, np.int64), request, options)

    return meta, factory
