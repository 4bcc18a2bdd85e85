"""The "images" format: image folders, root/<class>/<file>, the class folder being the label.

Every file is read or named: a file the trainer would skip is a bad record naming its
path and reason, judged by ``input_fns.image_folder.read_image_file``, the trainer's own
check (a file the gate passes, the trainer reads). Hidden files (.DS_Store) are named,
not read; entries never opened (a FIFO, a name that is not UTF-8) are bad records.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import apache_beam as beam
import tensorflow as tf

from common.errors import UsageError
from common.files import IMAGE_EXTENSIONS, list_files
from input_fns import image_folder
from pipeline.validation.readers import examples
from pipeline.validation.readers.base import BAD, InputSpec, Read, Reader, ReadOptions, Request, bad, step_name

FORMAT = "images"
IMAGE_FEATURE = "image"
FILE_NAME_FEATURE = "file_name"
IMAGE_BATCH_SIZE = 100


def _resolve(request: Request, files: tuple[str, ...]) -> InputSpec:
    """root/<class>/<file>: the class folder is the label; every file is read or named.

    ``files`` is unused: the patterns are folders, listed here.
    """
    patterns, flag = request.patterns, request.flag
    listed: list[str] = []
    labels: list[str] = []
    hidden: list[str] = []
    skipped: list[tuple[str, str]] = []
    for root in patterns:
        if not tf.io.gfile.isdir(root):
            raise UsageError(flag, f"'{root}' is not a directory of class folders")
        for label in sorted(tf.io.gfile.listdir(root)):
            label = label.rstrip("/")
            class_dir = os.path.join(root, label)
            if label.startswith(".") or not tf.io.gfile.isdir(class_dir):
                continue
            listing = list_files(class_dir)
            # Every other file is read: one without an image extension becomes a bad record.
            listed += listing.files
            labels += [label] * len(listing.files)
            hidden += listing.hidden  # .DS_Store and friends are not data: named, not counted
            skipped += [(s.shown, s.reason) for s in listing.skipped]
    if not any(image_folder.unsupported_extension(f) is None for f in listed):
        raise UsageError(flag, f"no image files ({', '.join(IMAGE_EXTENSIONS)}) under {list(patterns)}/<class>/")
    return InputSpec(
        request.role,
        flag,
        FORMAT,
        patterns,
        tuple(listed),
        image_labels=tuple(labels),
        hidden_files=tuple(hidden),
        skipped_files=tuple(skipped),
    )


class _ImageToExample(beam.DoFn):
    """(path, class) -> a serialized tf.Example with the encoded image, label and file name.

    A file the trainer would skip (image_folder.classify_image_file) is a bad record naming
    its path and reason, never an example TFDV's image decoder then fails the job on.
    """

    def __init__(self, label_feature: str):
        self._label_feature = label_feature

    def process(self, item: tuple[str, str]) -> Iterator:
        path, label = item
        encoded, bad_file = image_folder.read_image_file(path)
        if bad_file is None:
            yield self._example(path, label, encoded)
        else:
            yield beam.pvalue.TaggedOutput(BAD, bad(bad_file.kind, bad_file.reason, path))

    def _example(self, path: str, label: str, encoded: bytes) -> bytes:
        feature = {
            IMAGE_FEATURE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
            self._label_feature: tf.train.Feature(bytes_list=tf.train.BytesList(value=[label.encode()])),
            FILE_NAME_FEATURE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[os.path.basename(path).encode()])),
        }
        return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _read(pipeline: beam.Pipeline, spec: InputSpec, options: ReadOptions) -> Read:
    """Every file as a tf.Example (the label feature names its class folder), decoded; the files not read as bad records."""
    skipped = pipeline | f"{step_name(spec)}SkippedFiles" >> beam.Create(
        [bad(reason.split(" (")[0], reason, path) for path, reason in spec.skipped_files]
    )
    to_example = _ImageToExample(options.label or "label")
    return examples.from_folder_files(pipeline, spec, "Images", to_example, IMAGE_BATCH_SIZE, skipped=(skipped,))


READER = Reader(
    format=FORMAT,
    reads_folders=True,
    claims=lambda path: False,  # folders are chosen as a whole (every pattern a directory), not by file
    resolve=_resolve,
    read=_read,
    estimated_rows=lambda spec: len(spec.files),  # one row per file
    exact_rows=True,
)
