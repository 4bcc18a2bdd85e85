"""The ``image_folder`` source: one subfolder per class, JPEG/PNG/BMP/GIF files.

Every file in a class folder is either used or named in a count with its reason:
files without a supported extension (``.webp``, ``.tiff``, ``.txt``) are counted
as unsupported; with ``check_images`` every other file is decode-checked once,
before training, in parallel, and the ones that are not decodable images (zero
bytes, truncated, text behind an image extension) are left out and counted, so
an epoch never stops on a bad file. ``classify_image_file`` is the one judgement
of a file, shared with the validation gate (pipeline/validation/readers.py).
Above ``max_bad_fraction`` bad files the data is refused (exit 3), as the gate
refuses it. Grayscale, palette, CMYK and alpha images decode with their channels
forced to what the model takes.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import re
from collections.abc import Sequence
from concurrent import futures

import numpy as np
import tensorflow as tf
from absl import logging

from common import params
from common.errors import KestrelError, UsageError
from common.files import IMAGE_EXTENSIONS, list_files, shown
from common.params import IMAGES, MAX_BAD_RECORD_FRACTION, AugmentParams, DataParams, too_many_bad
from common.tasks import MASKS
from input_fns import mask_folder, pipeline_ops
from input_fns.augmentation import NO_AUGMENTATION, image_stages
from input_fns.pipeline_ops import DEFAULT_OPTIONS, FIT, InputFn, InputRequest, PipelineOptions
from input_fns.preprocessing import MAX_PIXELS, decode_image
from input_fns.source_base import Opened, SourceMeta, described, labels_read

WARN_PATHS = 5
CHECK_THREADS = 16  # decoding releases the GIL; reads may wait on gs://

# Why a file is not used: the kinds counted in the trainer's log line and the gate's report.
ZERO_BYTES = "zero bytes"
UNREADABLE = "unreadable"
TOO_LARGE = "too large"
# The other kinds are built from the format: "unsupported format .webp", "truncated JPEG",
# "corrupt PNG", "not an image (text)".

_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)
_OTHER_SIGNATURES = (
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
    (b"PK\x03\x04", "zip"),
)
_TF_NOISE = re.compile(r"\{\{[^}]*\}\}|\[Op:[^\]]*\]( name: \S*)?")


class BadImagesError(KestrelError):
    """More bad files than ``--max_bad_record_fraction`` allows: the data is refused, as the gate refuses it."""

    exit_code = 3  # pipeline.validation.gate.DATA_REJECTED_EXIT


@dataclasses.dataclass(frozen=True)
class BadFile:
    """A file in a class folder that is not used, and why."""

    path: str
    kind: str  # counted: "zero bytes", "truncated JPEG", "unsupported format .webp", ...
    detail: str = ""  # what the decoder said, for the report

    @property
    def reason(self) -> str:
        return f"{self.kind} ({self.detail})" if self.detail else self.kind


def unsupported_extension(path: str) -> str | None:
    """The kind of a file whose name rules it out before any read, or None."""
    extension = os.path.splitext(path)[1].lower()
    if extension in IMAGE_EXTENSIONS:
        return None
    return f"unsupported format {extension or '(no extension)'}"


def _sniffed_format(data: bytes) -> str | None:
    return next((name for magic, name in _SIGNATURES if data.startswith(magic)), None)


def _what_else(data: bytes) -> str:
    """What bytes that are no supported image look like, for the reason a person reads."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    found = next((name for magic, name in _OTHER_SIGNATURES if data.startswith(magic)), None)
    if found:
        return found
    head = data[:512]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "unknown data"
    return "text" if all(c.isprintable() or c.isspace() for c in text) else "unknown data"


def _is_truncated(data: bytes, fmt: str) -> bool:
    """True when the file ends before its format's end marker: the bytes were cut off."""
    tail = data.rstrip(b"\0")
    if fmt == "JPEG":
        return not tail.endswith(b"\xff\xd9")
    if fmt == "PNG":
        return b"IEND" not in data[-16:]
    if fmt == "GIF":
        return not tail.endswith(b";")
    declared = int.from_bytes(data[2:6], "little") if len(data) >= 6 else 0  # BMP: the header's file size
    return len(data) < declared


def decoder_message(err: tf.errors.OpError) -> str:
    """A TensorFlow error's message without the op and function-node wrapping around it."""
    text = _TF_NOISE.sub("", str(err.message)).strip()
    return " ".join(text.split())[:160]


def classify_image_bytes(data: bytes, channels: int = 3) -> tuple[str, str] | None:
    """None if ``data`` decodes as the trainer decodes it; else (kind, detail)."""
    if not data:
        return ZERO_BYTES, ""
    fmt = _sniffed_format(data)
    if fmt is None:
        return f"not an image ({_what_else(data)})", ""
    try:
        decode_image(tf.constant(data), channels)
    except tf.errors.OpError as err:
        message = decoder_message(err)
        if "header claims more than" in message:
            claimed = re.search(r"elements of x: \[(\d+)\]", message)
            pixels = f"{int(claimed.group(1)):,}" if claimed else "more"
            return TOO_LARGE, f"header claims {pixels} pixels, over {MAX_PIXELS:,}"
        return (f"truncated {fmt}" if _is_truncated(data, fmt) else f"corrupt {fmt}"), message
    return None


def read_image_file(path: str, channels: int = 3) -> tuple[bytes, BadFile | None]:
    """(the file's bytes, None) if the file at ``path`` is a usable image; else (b"", why not).

    The trainer's --check_images and the validation gate both judge files with this: a
    file one of them uses, the other uses too.
    """
    kind = unsupported_extension(path)
    if kind:
        return b"", BadFile(path, kind)  # not read: it may be anything (a video, an archive)
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            data = f.read()
    except (tf.errors.OpError, OSError) as err:
        return b"", BadFile(path, UNREADABLE, str(getattr(err, "message", err)).strip()[:160])
    problem = classify_image_bytes(data, channels)
    return (data, None) if problem is None else (b"", BadFile(path, *problem))


def classify_image_file(path: str, channels: int = 3) -> BadFile | None:
    """None if the file at ``path`` is a usable image; else a BadFile saying why not."""
    return read_image_file(path, channels)[1]


@dataclasses.dataclass(frozen=True)
class FileList:
    """Image paths and their class indices, in a fixed order."""

    paths: tuple[str, ...]
    labels: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.paths)


@dataclasses.dataclass(frozen=True)
class ImageFolder:
    """A scanned, checked folder tree: class names, the files of each role, and the files not used."""

    root: str
    class_names: tuple[str, ...]
    splits: dict[str, FileList]  # by role: train, validation[, test]
    skipped: tuple[str, ...] = ()  # the paths of ``bad``
    bad: tuple[BadFile, ...] = ()
    hidden: tuple[str, ...] = ()  # .DS_Store and friends: named, not data, not bad


@dataclasses.dataclass(frozen=True)
class _Scan:
    class_names: tuple[str, ...]
    files: FileList  # the files with an image extension
    unsupported: tuple[BadFile, ...]
    hidden: tuple[str, ...]


def scan(
    root: str, flag: str = "image_dir", class_names: Sequence[str] | None = None
) -> tuple[tuple[str, ...], FileList]:
    """Class names (sorted subfolders, or ``class_names``) and every image under them."""
    found = _scan(root, flag, class_names)
    return found.class_names, found.files


def _scan(root: str, flag: str, class_names: Sequence[str] | None) -> _Scan:
    if not tf.io.gfile.isdir(root):
        raise UsageError(flag, f"'{root}' is not a directory")
    found = sorted(
        name.rstrip("/") for name in tf.io.gfile.listdir(root) if tf.io.gfile.isdir(os.path.join(root, name))
    )
    if not found:
        raise UsageError(flag, f"'{root}' has no class subfolders; expected one subfolder of images per class")
    names = tuple(class_names) if class_names is not None else tuple(found)
    if class_names is not None and set(found) != set(names):
        raise UsageError(flag, f"'{root}' has classes {list(found)}; expected the training classes {list(names)}")
    paths: list[str] = []
    labels: list[int] = []
    unsupported: list[BadFile] = []
    hidden: list[str] = []
    empty = []
    for index, name in enumerate(names):
        files, others, dotfiles = _files_under(os.path.join(root, name))
        if not files:
            empty.append(name)
        paths += files
        labels += [index] * len(files)
        unsupported += others
        hidden += dotfiles
    if empty:
        raise UsageError(flag, f"class folder(s) with no {'/'.join(IMAGE_EXTENSIONS)} images in '{root}': {empty}")
    return _Scan(names, FileList(tuple(paths), tuple(labels)), tuple(unsupported), tuple(hidden))


def _files_under(folder: str) -> tuple[list[str], list[BadFile], list[str]]:
    """(images, files ruled out before any read, hidden files) under ``folder``, each sorted.

    Ruled out: a name without an image extension, and what common.files skips (a FIFO, a
    name that is not UTF-8, a dangling link), each also named in a warning line of its own.
    """
    listing = list_files(folder)
    images, others = [], []
    for path in listing.files:
        kind = unsupported_extension(path)
        if kind:
            others.append(BadFile(path, kind))
        else:
            images.append(path)
    for skipped in listing.skipped:
        logging.warning("%s", skipped.line())
        others.append(BadFile(skipped.path, skipped.kind, skipped.detail))
    return images, sorted(others, key=lambda b: b.path), list(listing.hidden)


def split(files: FileList, val_fraction: float, seed: int) -> tuple[FileList, FileList]:
    """A fixed, per-class (stratified) split: the same seed gives the same validation files."""
    if not 0.0 < val_fraction < 1.0:
        raise UsageError("val_fraction", f"{val_fraction}; must be between 0 and 1 (or pass --val_dir)")
    rng = np.random.default_rng(seed)
    labels = np.array(files.labels)
    val_mask = np.zeros(len(labels), bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        take = int(round(len(members) * val_fraction))
        # Every class keeps at least one training and (if it can) one validation image.
        take = min(max(take, 1), len(members) - 1) if len(members) > 1 else 0
        val_mask[rng.permutation(members)[:take]] = True
    return _subset(files, ~val_mask), _subset(files, val_mask)


def _subset(files: FileList, mask: np.ndarray) -> FileList:
    keep = np.flatnonzero(mask)
    return FileList(tuple(files.paths[i] for i in keep), tuple(files.labels[i] for i in keep))


def classify_files(paths: Sequence[str], channels: int = 3) -> list[BadFile]:
    """The files of ``paths`` that are not usable images, each with its reason, in ``paths`` order."""
    if not paths:
        return []
    with futures.ThreadPoolExecutor(min(CHECK_THREADS, len(paths))) as pool:
        found = list(pool.map(lambda path: classify_image_file(path, channels), paths))
    return [bad for bad in found if bad is not None]


def find_undecodable(paths: Sequence[str], channels: int = 3) -> list[str]:
    """The paths that do not decode as images."""
    return [bad.path for bad in classify_files(paths, channels)]


def drop_undecodable(files: FileList, channels: int) -> tuple[FileList, list[BadFile]]:
    bad = classify_files(files.paths, channels)
    if not bad:
        return files, []
    bad_set = {b.path for b in bad}
    return _subset(files, np.array([p not in bad_set for p in files.paths])), bad


def _shown(root: str, path: str) -> str:
    prefix = root.rstrip("/") + "/"
    return shown(path[len(prefix) :] if path.startswith(prefix) else path)


def describe_bad(bad: Sequence[BadFile], root: str = "") -> str:
    """'2 skipped: 1 zero bytes (a/x.jpg), 1 unsupported format .webp (b/y.webp)': counts by kind, with paths."""
    by_kind: dict[str, list[str]] = collections.defaultdict(list)
    for b in bad:
        by_kind[b.kind].append(_shown(root, b.path))
    parts = []
    for kind, paths in sorted(by_kind.items(), key=lambda item: (-len(item[1]), item[0])):
        more = f", ... {len(paths) - WARN_PATHS} more" if len(paths) > WARN_PATHS else ""
        parts.append(f"{len(paths)} {kind} ({', '.join(paths[:WARN_PATHS])}{more})")
    return f"{len(bad)} skipped: " + ", ".join(parts)


def report_files(used: int, bad: Sequence[BadFile], hidden: Sequence[str], root: str, checked: bool) -> None:
    """One line: what was used, what was skipped and why, and what was not checked."""
    line = f"image_folder: {used} images used"
    if not checked:
        line += (
            f" without a decode check (--nocheck_images): {used} files not checked; one that does not decode "
            "is skipped when it is read, with a tf.data warning, and the run's image count is then lower"
        )
    if bad:
        line += "; " + describe_bad(bad, root)
    if hidden:
        names = ", ".join(_shown(root, p) for p in hidden[:WARN_PATHS])
        line += f"; ignored {len(hidden)} hidden file(s) ({names})"
    (logging.warning if bad or hidden or not checked else logging.info)("%s", line)


def refuse_above(bad: Sequence[BadFile], used: int, max_bad_fraction: float, root: str) -> None:
    """Raises BadImagesError (exit 3) when the bad files are more than ``max_bad_fraction`` of all files."""
    total = used + len(bad)
    if not too_many_bad(len(bad), total, max_bad_fraction):
        return
    raise BadImagesError(
        f"image_folder: {len(bad)} of {total} files ({len(bad) / total:.1%}) in '{root}' are not usable images, "
        f"above --max_bad_record_fraction={max_bad_fraction:g}: {describe_bad(bad, root)}; "
        "fix or remove them, or raise --max_bad_record_fraction"
    )


def load(
    image_dir: str,
    val_dir: str | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    check_images: bool = True,
    channels: int = 3,
    test_dir: str | None = None,
    max_bad_fraction: float = MAX_BAD_RECORD_FRACTION,
) -> ImageFolder:
    """Scan, split and decode-check a folder tree; every user error is raised here, before training."""
    scanned = {params.TRAIN: _scan(image_dir, "image_dir", None)}
    class_names = scanned[params.TRAIN].class_names
    if val_dir:
        scanned[params.VALIDATION] = _scan(val_dir, "val_dir", class_names)
        splits = {params.TRAIN: scanned[params.TRAIN].files, params.VALIDATION: scanned[params.VALIDATION].files}
    else:
        pair = split(scanned[params.TRAIN].files, val_fraction, seed)
        splits = dict(zip((params.TRAIN, params.VALIDATION), pair, strict=True))
    if test_dir:
        scanned[params.TEST] = _scan(test_dir, "test_dir", class_names)
        splits[params.TEST] = scanned[params.TEST].files
    # Each folder is judged on its own files, as the gate judges --image_dir: bad over all read.
    folder = {params.TRAIN: image_dir, params.VALIDATION: val_dir or image_dir, params.TEST: test_dir}
    bad_in = {folder[role]: list(s.unsupported) for role, s in scanned.items()}
    hidden = [p for s in scanned.values() for p in s.hidden]
    if check_images:
        for role, role_files in splits.items():
            splits[role], undecodable = drop_undecodable(role_files, channels)
            bad_in[folder[role]] += undecodable
    bad = [b for found in bad_in.values() for b in found]
    report_files(sum(len(f) for f in splits.values()), bad, hidden, image_dir, check_images)
    _check_roles(splits, image_dir, val_dir, val_fraction, test_dir)
    for root, found in bad_in.items():
        refuse_above(found, sum(len(splits[r]) for r in splits if folder[r] == root), max_bad_fraction, root)
    return ImageFolder(image_dir, class_names, splits, tuple(b.path for b in bad), tuple(bad), tuple(hidden))


def _check_roles(
    splits: dict[str, FileList], image_dir: str, val_dir: str | None, val_fraction: float, test_dir: str | None
) -> None:
    flags = {
        params.TRAIN: ("image_dir", image_dir),
        params.VALIDATION: ("val_dir" if val_dir else "val_fraction", val_dir),
        params.TEST: ("test_dir", test_dir),
    }
    for role, role_files in splits.items():
        if not len(role_files):
            flag, where = flags[role]
            where = f"'{where}'" if where else f"the {val_fraction:.0%} validation split of '{image_dir}'"
            raise UsageError(flag, f"no decodable images for the {role} role in {where}")


def open(data: DataParams, seed: int | None, options: PipelineOptions) -> Opened:
    """``--image_dir`` (and ``--val_dir``, ``--test_dir``): scanned, split and decode-checked; for a task
    whose labels are masks, its images and ``--mask_dir`` (``input_fns.mask_folder``)."""
    if not data.image_dir:
        raise UsageError("image_dir", "not set; the image_folder source reads one subfolder per class from it")
    if labels_read(data) == MASKS:
        return mask_folder.open(data, seed, options)
    folder = load(
        data.image_dir,
        data.val_dir,
        data.val_fraction,
        seed or 0,
        data.check_images,
        test_dir=data.test_dir,
        max_bad_fraction=data.max_bad_record_fraction,
    )
    roles = {params.TRAIN: data.image_dir, params.VALIDATION: data.val_dir, params.TEST: data.test_dir}
    meta = SourceMeta(
        data.image_dir,
        IMAGES,
        folder.class_names,
        {role: len(files) for role, files in folder.splits.items()},
        described(folder.splits, roles, data),
        image_shape=(None, None, 3),
        train_files=(data.image_dir,),
        gate_format="images",
        skipped_files=folder.skipped,
    )

    def factory(role: str, request: InputRequest) -> InputFn:
        return input_fn(folder.splits[role], request, options, data.augment, skip_errors=not data.check_images)

    return meta, factory


def input_fn(
    files: FileList,
    request: InputRequest,
    options: PipelineOptions = DEFAULT_OPTIONS,
    augment: AugmentParams = NO_AUGMENTATION,
    skip_errors: bool = False,
) -> InputFn:
    """An Estimator input_fn yielding ``({input_name: images}, labels)`` from ``files`` (an image request).

    ``skip_errors`` drops files that fail to decode during training (for when
    the up-front check was switched off); tf.data logs each one it drops.
    """
    if not len(files):
        raise UsageError("image_dir", "no images in this split")
    training = request.mode == FIT
    cached = options.cache != pipeline_ops.CACHE_NONE
    stages = image_stages(request.image_spec, training, augment, read=tf.io.read_file, cached=cached)

    def build(mode: str, input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((list(files.paths), np.array(files.labels, np.int64)))
        ds = pipeline_ops.shard(ds, input_context)
        if training:
            # File-level shuffle over every path: cheap, and it covers the whole split.
            ds = ds.shuffle(len(files), seed=options.seed, reshuffle_each_iteration=True)
        return stages.finish(
            ds,
            mode,
            request.batch_size,
            options,
            input_context,
            request.input_name,
            sharded=True,
            element_shuffle=False,
            skip_errors=skip_errors,
        )

    return pipeline_ops.estimator_input_fn(build, request.mode)
