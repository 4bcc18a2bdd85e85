"""Small generated spans for the validation tests: TFRecords of tf.Example, CSV, image folders.

Every span has the same four features unless told otherwise: ``x`` float ~ N(0, 1),
``n`` int in [0, 50), ``c`` one of a/b/c, ``label`` int in {0, 1, 2}.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import tensorflow as tf

CATEGORIES = ("a", "b", "c")


def rows(
    n: int,
    seed: int,
    *,
    shift: float = 0.0,
    new_category: str | None = None,
    label: bool = True,
) -> list[dict]:
    rng = np.random.default_rng(seed)
    values = list(CATEGORIES) + ([new_category] if new_category else [])
    out = []
    for _ in range(n):
        row = {
            "x": float(rng.normal() + shift),
            "n": int(rng.integers(0, 50)),
            "c": str(rng.choice(values)),
        }
        if label:
            row["label"] = int(rng.integers(0, 3))
        out.append(row)
    return out


def _feature(value) -> tf.train.Feature:
    if isinstance(value, bool | int | np.integer):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
    if isinstance(value, float):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(value).encode()]))


def write_tfrecord(
    path: Path,
    data: list[dict],
    *,
    drop: str | None = None,
    as_string: str | None = None,
    garbage_records: int = 0,
) -> Path:
    """``drop`` leaves a feature out; ``as_string`` writes a feature as bytes (a wrong type)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for row in data:
            feature = {}
            for name, value in row.items():
                if name == drop:
                    continue
                feature[name] = _feature(f"v{value}" if name == as_string else value)
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
        for i in range(garbage_records):
            writer.write(b"\xff\xfe not a tf.Example " + bytes([i]))
    return path


def write_csv(path: Path, data: list[dict], *, malformed_lines: tuple[str, ...] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(data[0]))
        writer.writeheader()
        writer.writerows(data[: len(data) // 2])
        for line in malformed_lines:
            f.write(line + "\n")
        writer.writerows(data[len(data) // 2 :])
    return path


def write_image_folder(root: Path, per_class: int, classes: tuple[str, ...] = ("cat", "dog")) -> Path:
    """root/<class>/<i>.png, small random grayscale PNGs of a few sizes."""
    rng = np.random.default_rng(0)
    for cls in classes:
        folder = root / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            height, width = (8, 8) if i % 2 else (12, 10)
            pixels = rng.integers(0, 256, size=(height, width, 1), dtype=np.uint8)
            (folder / f"{cls}_{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    return root
