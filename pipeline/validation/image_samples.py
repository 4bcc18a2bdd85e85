"""What the report shows of an image folder's files: a few thumbnails per class, a sample of sizes.

Read in the gate's process from the input spec (``readers.InputSpec.files`` and
``.image_labels``), after the statistics job: a few files per class for the
thumbnails, and at most ``MAX_SIZE_SAMPLE`` files spread over the folder for the
width/height/format charts (TFDV's image generator gives only the formats and the
largest width and height, and only from 100 images on). Files the job found bad
are never read again.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import warnings
from collections.abc import Iterable
from concurrent import futures

import numpy as np
import tensorflow as tf
from PIL import Image

from pipeline.validation.readers import InputSpec

THUMBNAILS_PER_CLASS = 6
MAX_THUMBNAIL_CLASSES = 40  # a thousand-class folder would make a page of megabytes
THUMBNAIL_PIXELS = 96  # the longer side, downscaled to keep the page small
MAX_SIZE_SAMPLE = 200
# Enough of a file for its header (width, height, format): the pixels are not needed.
_HEADER_BYTES = 1 << 20
_READERS = 8  # files are read in parallel: on a bucket each read is a round trip


@dataclasses.dataclass(frozen=True)
class Thumbnail:
    name: str  # the file's name in its class folder
    data_uri: str  # a small JPEG, base64 in a data: URI: the page stays one file


@dataclasses.dataclass(frozen=True)
class ImageSample:
    thumbnails: dict[str, tuple[Thumbnail, ...]]  # class -> its first few usable files (first classes only)
    classes: int  # classes with a usable file
    widths: tuple[int, ...]
    heights: tuple[int, ...]
    formats: dict[str, int]  # format -> files, in the sample
    sampled: int  # files whose size was read


def _read(path: str, limit: int | None = None) -> bytes:
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read(limit) if limit else f.read()


def _thumbnail(path: str) -> Thumbnail | None:
    """A downscaled JPEG of the file, or None when it cannot be read here after all."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's decompression-bomb warning: the gate judged the size
            image = Image.open(io.BytesIO(_read(path)))
            image.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, format="JPEG", quality=85)
    except Exception:  # noqa: BLE001 - any unreadable file is simply not shown
        return None
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return Thumbnail(name, "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"))


def _size(path: str) -> tuple[int, int, str] | None:
    """(width, height, format) from the file's header, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(_read(path, _HEADER_BYTES)))
            return image.width, image.height, (image.format or "unknown").upper()
    except Exception:  # noqa: BLE001
        return None


def _by_class(spec: InputSpec, bad: set[str]) -> dict[str, list[str]]:
    classes: dict[str, list[str]] = {}
    for path, label in zip(spec.files, spec.image_labels, strict=True):
        if path not in bad:
            classes.setdefault(label, []).append(path)
    return classes


def _thumbnails(classes: dict[str, list[str]], pool: futures.Executor) -> dict[str, tuple[Thumbnail, ...]]:
    """The first usable files of each class; a file that does not open here is passed over for the next."""
    shown = {}
    for label, paths in list(classes.items())[:MAX_THUMBNAIL_CLASSES]:
        found: list[Thumbnail] = []
        for start in range(0, len(paths), THUMBNAILS_PER_CLASS):
            batch = paths[start : start + THUMBNAILS_PER_CLASS]
            found += [t for t in pool.map(_thumbnail, batch) if t]
            if len(found) >= THUMBNAILS_PER_CLASS:
                break
        shown[label] = tuple(found[:THUMBNAILS_PER_CLASS])
    return shown


def _spread(paths: list[str], n: int) -> list[str]:
    """``n`` paths evenly spread over the list (every class, not the first folder only)."""
    if len(paths) <= n:
        return paths
    return [paths[i] for i in np.linspace(0, len(paths) - 1, n).round().astype(int)]


def sample_images(spec: InputSpec, bad_files: Iterable[str]) -> ImageSample:
    """Thumbnails per class and the sizes of up to MAX_SIZE_SAMPLE files; ``bad_files`` are skipped."""
    classes = _by_class(spec, set(bad_files))
    usable = [p for paths in classes.values() for p in paths]
    with futures.ThreadPoolExecutor(_READERS) as pool:
        thumbnails = _thumbnails(classes, pool)
        sizes = [s for s in pool.map(_size, _spread(usable, MAX_SIZE_SAMPLE)) if s]
    formats: dict[str, int] = {}
    for _, _, fmt in sizes:
        formats[fmt] = formats.get(fmt, 0) + 1
    return ImageSample(
        thumbnails=thumbnails,
        widths=tuple(w for w, _, _ in sizes),
        heights=tuple(h for _, h, _ in sizes),
        formats=formats,
        sampled=len(sizes),
        classes=len(classes),
    )
