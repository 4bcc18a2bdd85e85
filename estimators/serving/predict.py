"""Predict image files with an exported SavedModel: class names and probabilities as a table, CSV or JSON."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import tensorflow as tf

from common.errors import UsageError
from common.files import IMAGE_EXTENSIONS, is_image_name, judge, list_files
from common.names import SERVING_KEY
from common.writes import write_whole
from estimators.serving import receivers as serving

T = TypeVar("T")

FORMATS = ("table", "csv", "json")


@dataclasses.dataclass(frozen=True)
class Prediction:
    path: str
    class_name: str
    probability: float
    top: tuple[tuple[str, float], ...]  # (class name, probability), best first


@dataclasses.dataclass(frozen=True)
class Failure:
    """A file that got no prediction, and why."""

    path: str
    reason: str


def image_paths(inputs: list[str]) -> tuple[list[str], list[Failure]]:
    """Files as given and a folder's image files (sorted); and the entries that cannot be read as files.

    Such an entry (a FIFO, whose open would wait forever for a writer; a name that is not
    UTF-8; a dangling link) gets no prediction: it is a Failure naming it, never a hang.
    Anything else unusable (a missing path, a folder without images) is a usage error.
    """
    if not inputs:
        raise UsageError("images", "give image files or a folder")
    paths: list[str] = []
    skipped: list[Failure] = []
    for item in inputs:
        if _is_dir(item):
            listing = list_files(item, recursive=False)
            skipped += [Failure(s.shown, f"skipped: {s.reason}") for s in listing.skipped]
            found = [path for path in listing.files if is_image_name(path)]
            if not found and not listing.skipped:
                raise UsageError("images", f"no {'/'.join(IMAGE_EXTENSIONS)} files in '{item}'")
            paths += found
        elif not os.path.lexists(item) and not tf.io.gfile.exists(item):
            raise UsageError("images", f"no file or folder '{item}'")
        elif problem := judge(item):
            skipped.append(Failure(problem.shown, f"skipped: {problem.reason}"))
        else:
            paths.append(item)
    return paths, skipped


def _is_dir(item: str) -> bool:
    """A local path is checked by the OS: a name that is not UTF-8 cannot pass through TensorFlow."""
    return tf.io.gfile.isdir(item) if "://" in item else os.path.isdir(item)


def export_signature(export_dir: str):
    """The serving signature of the SavedModel in ``export_dir``."""
    if not tf.io.gfile.exists(os.path.join(export_dir, "saved_model.pb")):
        raise UsageError("export_dir", f"no SavedModel in '{export_dir}'")
    signature = tf.saved_model.load(export_dir).signatures.get(SERVING_KEY)
    if signature is None:
        raise UsageError("export_dir", f"'{export_dir}' has no '{SERVING_KEY}' signature")
    return signature


def load_signature(export_dir: str):
    signature = export_signature(export_dir)
    if serving.BYTES_INPUT not in signature.structured_input_signature[1]:
        raise UsageError("export_dir", f"'{export_dir}' has no serving signature on encoded image bytes")
    return signature


# What TensorFlow's decoders say -> the reason a user reads (the first match wins), and whether
# the decoder's own words add anything to it.
_REASONS = (
    ("Unknown image file format", "not an image (not PNG, JPEG, BMP or GIF data)", False),
    ("Input is empty", "empty file", False),
    ("image header claims more than", "too large", True),  # decode_image's size check, from the header
    ("JPEG", "truncated or corrupt JPEG", True),
    ("PNG", "truncated or corrupt PNG", True),
    ("GIF", "truncated or corrupt GIF", True),
    ("header_size", "truncated or corrupt BMP", True),
)
_NOISE = ("Graph execution error", "Detected at node", "<stack traces", "[[", "Op:")


def op_message(message: str) -> str:
    """The line of a graph error that says what went wrong (not where)."""
    for line in message.splitlines():
        line = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", line).split(" [[")[0].strip()
        if line and not line.startswith(_NOISE):
            return line
    return message.strip().splitlines()[0] if message.strip() else "decoding failed"


def decode_reason(err: tf.errors.OpError) -> str:
    """Why the serving signature could not decode one file, in a few words and the decoder's own."""
    detail = op_message(err.message)
    for marker, reason, with_detail in _REASONS:
        if marker in detail:
            return f"{reason} ({detail})" if with_detail else reason
    return detail


def _read(path: str) -> bytes:
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a while.

    libjpeg writes its own complaints ("Improper call to JPEG library in state 201") straight
    to stderr from C while TensorFlow already raises the error we report per file: without
    this, a bad file's one ``error:`` line would come with stray lines around it.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def _outputs(signature, encoded: list[bytes], key: str | tuple[str, ...]) -> np.ndarray | list[tuple]:
    with native_stderr_silenced():
        out = signature(**{serving.BYTES_INPUT: tf.constant(encoded, dtype=tf.string)})
    if isinstance(key, tuple):  # several outputs: one tuple of them per row
        return list(zip(*(out[k].numpy() for k in key), strict=True))
    return out[key].numpy()


def predict_batch(signature, batch: list[str], key: str | tuple[str, ...] = "probabilities") -> list:
    """Per path of ``batch``: its output ``key`` (probabilities; a mask; a tuple of outputs for a tuple of keys),
    or the Failure that says why it has none."""
    outcomes: list[np.ndarray | Failure | None] = [None] * len(batch)
    encoded: dict[int, bytes] = {}
    for i, path in enumerate(batch):
        try:
            encoded[i] = _read(path)
        except (OSError, tf.errors.OpError) as err:
            outcomes[i] = Failure(path, f"cannot read: {getattr(err, 'message', None) or err}")
    if not encoded:
        return outcomes
    try:
        for i, row in zip(encoded, _outputs(signature, list(encoded.values()), key), strict=True):
            outcomes[i] = row
    except tf.errors.InvalidArgumentError:
        # One undecodable file fails the whole call: find it (and the good ones) one file at a time.
        for i, data in encoded.items():
            try:
                outcomes[i] = _outputs(signature, [data], key)[0]
            except tf.errors.InvalidArgumentError as err:
                outcomes[i] = Failure(batch[i], decode_reason(err))
    return outcomes


def each_prediction(
    signature, paths: list[str], failures: list[Failure], key: str | tuple[str, ...] = "probabilities", batch_size=32
) -> Iterator[tuple[str, Any]]:
    """Each file of ``paths`` that decodes, with its outputs ``key``, in batches; one that does not goes to
    ``failures`` (with its reason)."""
    for start in range(0, len(paths), batch_size):
        batch = paths[start : start + batch_size]
        for path, outcome in zip(batch, predict_batch(signature, batch, key), strict=True):
            if isinstance(outcome, Failure):
                failures.append(outcome)
            else:
                yield path, outcome


def collect(
    signature, paths: list[str], key: str | tuple[str, ...], batch_size: int, predicted: Callable[[str, Any], T]
) -> tuple[list[T], list[Failure]]:
    """``predicted(path, outputs)`` of each file of ``paths`` that decodes, in order, and a Failure (with its
    reason) for each that does not."""
    failures: list[Failure] = []
    results = [
        predicted(path, outcome) for path, outcome in each_prediction(signature, paths, failures, key, batch_size)
    ]
    return results, failures


def output_folder(output_dir: str | None, writes: str) -> str:
    """``output_dir``, made; a usage error when it is not given (``writes``: what the model writes there)."""
    if not output_dir:
        raise UsageError("output_dir", f"{writes}; name the folder for them")
    tf.io.gfile.makedirs(output_dir)
    return output_dir


def write_beside(data: bytes, image_path: str, output_dir: str, suffix: str) -> str:
    """``data`` (a PNG) as ``<output_dir>/<image stem>_<suffix>.png``, written whole (common/writes.py); its path."""
    stem = os.path.splitext(os.path.basename(image_path))[0]
    path = os.path.join(output_dir, f"{stem}_{suffix}.png")
    write_whole(path, data)
    return path


def format_rows(rows: list[list[str]], fmt: str) -> str:
    """A header row and its rows as CSV (``fmt`` "csv") or as a table of left-aligned columns (any other)."""
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        return buffer.getvalue().rstrip("\n")
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def predict_files(
    export_dir: str, paths: list[str], top_k: int = 3, batch_size: int = 32
) -> tuple[list[Prediction], list[Failure]]:
    """Predictions for the files that decode, and a Failure (with its reason) for each that does not."""
    signature = load_signature(export_dir)
    names = serving.read_labels(export_dir)

    def predicted(path: str, outcome: np.ndarray) -> Prediction:
        top = tuple((names[i], float(outcome[i])) for i in np.argsort(-outcome)[:top_k])
        return Prediction(path, top[0][0], top[0][1], top)

    return collect(signature, paths, "probabilities", batch_size, predicted)


def format_predictions(predictions: list[Prediction], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            [
                {
                    "path": p.path,
                    "class": p.class_name,
                    "probability": round(p.probability, 6),
                    "top": [{"class": c, "probability": round(v, 6)} for c, v in p.top],
                }
                for p in predictions
            ],
            indent=2,
        )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["path", "class", "probability"])
        for p in predictions:
            writer.writerow([p.path, p.class_name, f"{p.probability:.6f}"])
        return buffer.getvalue().rstrip("\n")
    if fmt != "table":
        raise UsageError("format", f"unknown format '{fmt}'; allowed: {', '.join(FORMATS)}")
    width = max([4, *(len(p.path) for p in predictions)])
    cls = max([5, *(len(p.class_name) for p in predictions)])
    lines = [f"{'path':<{width}}  {'class':<{cls}}  probability  top"]
    for p in predictions:
        top = ", ".join(f"{c} {v:.3f}" for c, v in p.top)
        lines.append(f"{p.path:<{width}}  {p.class_name:<{cls}}  {p.probability:11.4f}  {top}")
    return "\n".join(lines)
