"""Evaluation of an exported SavedModel, through its serving signature, on labelled image files.

The candidate is judged by what would be served: the SavedModel that push
copies, fed the files' own bytes the way a client sends them. The blessed model
is measured the same way on the same fixed holdout at the same moment, so the
comparison never rests on a number recorded under older code or data.

Labelled images are image-folder data: ``<root>/<class name>/<file>``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys

import numpy as np

from common.errors import UsageError
from common.files import is_image_name, list_files
from common.names import ASSETS_EXTRA, LABELS_FILE, SERVING_KEY


@dataclasses.dataclass(frozen=True)
class LabelledFiles:
    paths: tuple[str, ...]
    labels: tuple[str, ...]  # class folder names

    def __len__(self) -> int:
        return len(self.paths)


def image_folder_files(roots: list[str], flag: str = "spans") -> LabelledFiles:
    """Every image under ``root/<class>/`` of each root, with its class folder as the label."""
    paths, labels = [], []
    for root in roots:
        if not os.path.isdir(root):
            raise UsageError(flag, f"'{root}' is not an image folder (<root>/<class name>/<image files>)")
        for label in sorted(os.listdir(root)):
            folder = os.path.join(root, label)
            if label.startswith(".") or not os.path.isdir(folder):
                continue
            listing = list_files(folder, recursive=False)
            for skipped in listing.skipped:  # a FIFO, a name that is not UTF-8: named, never opened
                print(skipped.line(), file=sys.stderr, flush=True)
            images = [path for path in listing.files if is_image_name(path)]
            paths += images
            labels += [label] * len(images)
    if not paths:
        raise UsageError(flag, f"no labelled images under {', '.join(roots)}")
    return LabelledFiles(tuple(paths), tuple(labels))


def class_names(roots: list[str]) -> tuple[str, ...]:
    """The class folders of image-folder roots (what the model's output layer depends on)."""
    names = set()
    for root in roots:
        if os.path.isdir(root):
            names.update(n for n in os.listdir(root) if not n.startswith(".") and os.path.isdir(os.path.join(root, n)))
    return tuple(sorted(names))


def evaluate_saved_model(export_dir: str, data: LabelledFiles, batch_size: int = 256) -> dict[str, float]:
    """Accuracy and mean cross-entropy of the SavedModel's serving signature on ``data``."""
    # Imported here: a retrain that skips an unchanged span never loads TensorFlow.
    import tensorflow as tf

    loaded = tf.saved_model.load(export_dir)
    predict = loaded.signatures[SERVING_KEY]
    input_name = next(iter(predict.structured_input_signature[1]))
    served_names = _served_class_names(export_dir)
    correct, loss = 0, 0.0
    for start in range(0, len(data), batch_size):
        paths = data.paths[start : start + batch_size]
        labels = data.labels[start : start + batch_size]
        images = tf.constant([tf.io.gfile.GFile(p, "rb").read() for p in paths])
        out = predict(**{input_name: images})
        predicted = [name.decode() for name in out["class_names"].numpy()]
        probabilities = out["probabilities"].numpy()
        correct += sum(p == label for p, label in zip(predicted, labels, strict=True))
        for row, label in zip(probabilities, labels, strict=True):
            index = served_names.get(label)
            p = float(row[index]) if index is not None else 0.0
            loss += -math.log(max(p, 1e-7))
    return {"accuracy": correct / len(data), "loss": loss / len(data), "examples": float(len(data))}


def _served_class_names(export_dir: str) -> dict[str, int]:
    """Class name -> output index, from the labels file the export carries (assets.extra/labels.txt)."""
    import tensorflow as tf

    path = os.path.join(export_dir, ASSETS_EXTRA, LABELS_FILE)
    if not tf.io.gfile.exists(path):
        raise UsageError(None, f"{export_dir} has no {ASSETS_EXTRA}/{LABELS_FILE}: not a kestrel export")
    with tf.io.gfile.GFile(path) as f:
        names = [line.rstrip("\n") for line in f if line.strip()]
    return {name: index for index, name in enumerate(np.asarray(names).tolist())}
