"""Texts from CSV columns (``--source=csv --task=text_classification --text_key=<column> --label_key=<column>``).

Every row is read here, before training: a file that is not UTF-8 is refused at the line of its
first bad byte (input_fns/text_files.py), an empty text or class cell at its row's line, a class
the training rows do not have at its line; nothing is dropped. The rows then become the TEXT source
``text_source.opened`` builds, so the vocabulary, the models, the export and the report are the
class folders' own. The gate validates the CSV files themselves (the "csv" reader, a string column).
"""

from __future__ import annotations

import csv
import io

from common.errors import UsageError
from common.params import TEST, TRAIN, VALIDATION, DataParams
from input_fns.pipeline_ops import PipelineOptions
from input_fns.source_base import Opened, class_names, described, role_files
from input_fns.text_files import read_text
from input_fns.text_source import TextFolder, carve, opened
from input_fns.tfrecord_source import resolve_files

# A row: (text, class value, where it is: "'file' line n").
Row = tuple[str, str, str]


def read_rows(patterns: str, text_key: str, label_key: str, separator: str, flag: str) -> list[Row]:
    """(text, class, where) of every row of the files ``patterns`` names; an empty cell is a usage error."""
    rows = []
    for path in resolve_files(patterns, flag):
        reader = csv.DictReader(io.StringIO(read_text(path, flag), newline=""), delimiter=separator)
        header = reader.fieldnames or []
        for key, key_flag in ((text_key, "text_key"), (label_key, "label_key")):
            if key not in header:
                raise UsageError(key_flag, f"no column '{key}' in '{path}'; columns: {header}")
        for row in reader:
            where = f"'{path}' line {reader.line_num}"
            for key in (text_key, label_key):
                if not (row.get(key) or "").strip():
                    raise UsageError(
                        flag, f"{where}: column '{key}' is empty; allowed: a text and a class on every row"
                    )
            rows.append((row[text_key], row[label_key].strip(), where))
    if not rows:
        raise UsageError(flag, f"'{patterns}' holds no rows")
    return rows


def _folder(rows: list[Row], classes: tuple[str, ...], flag: str) -> TextFolder:
    index = {name: i for i, name in enumerate(classes)}
    for _, value, where in rows:
        if value not in index:
            raise UsageError(
                flag, f"{where}: class '{value}' is not a class of the training rows ({', '.join(classes)})"
            )
    return TextFolder(
        tuple(text for text, _, _ in rows), tuple(index[value] for _, value, _ in rows), tuple(w for _, _, w in rows)
    )


def open_csv(data: DataParams, seed: int | None, options: PipelineOptions) -> Opened:
    """``--train_files`` (``--validation_files``, ``--test_files``): a text and a class per row, all checked."""
    if not data.text_key:
        raise UsageError("text_key", "not set; --source=csv --task=text_classification reads its texts from it")

    def read(patterns: str, flag: str) -> list[Row]:
        return read_rows(patterns, data.text_key, data.label_key, data.csv_separator, flag)

    train_rows = read(data.train_files, "train_files")
    found = tuple(sorted({value for _, value, _ in train_rows}))
    if len(found) < 2:
        raise UsageError("train_files", f"the training rows have {len(found)} class(es); allowed: two or more")
    train = _folder(train_rows, found, "train_files")
    if data.validation_files:
        splits = {
            TRAIN: train,
            VALIDATION: _folder(read(data.validation_files, "validation_files"), found, "validation_files"),
        }
    else:
        splits = dict(zip((TRAIN, VALIDATION), carve(train, data.val_fraction, seed or 0), strict=True))
    if data.test_files:
        splits[TEST] = _folder(read(data.test_files, "test_files"), found, "test_files")
    classes = class_names(data.class_names, len(found) - 1, found)
    train_files = tuple(p for p in data.train_files.split(",") if p)
    named = described(splits, role_files(data), data)
    return opened(data.train_files, classes, splits, named, options, train_files=train_files, gate_format="csv")
