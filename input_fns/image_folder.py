"""Input functions over an image folder tree: one subfolder per class, JPEG/PNG/BMP/GIF files.

Every file is decode-checked once, before training, in parallel: files that
are not decodable images (corrupt, truncated, zero bytes, another format
behind an image extension) are left out and reported in one warning, so an
epoch never stops on a bad file. Grayscale, palette, CMYK and alpha images
decode with their channels forced to what the model takes.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from common import params
from common.errors import UsageError
from common.params import AugmentParams
from input_fns import pipeline_ops
from input_fns.augmentation import NO_AUGMENTATION, image_stages
from input_fns.pipeline_ops import DEFAULT_OPTIONS, TRAIN, InputFn, PipelineOptions
from input_fns.preprocessing import ImageSpec, decode_image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
WARN_PATHS = 5


@dataclasses.dataclass(frozen=True)
class FileList:
    """Image paths and their class indices, in a fixed order."""

    paths: tuple[str, ...]
    labels: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.paths)


@dataclasses.dataclass(frozen=True)
class ImageFolder:
    """A scanned, checked folder tree: class names and the files of each role."""

    root: str
    class_names: tuple[str, ...]
    splits: dict[str, FileList]  # by role: train, validation[, test]
    skipped: tuple[str, ...] = ()


def scan(
    root: str, flag: str = "image_dir", class_names: Sequence[str] | None = None
) -> tuple[tuple[str, ...], FileList]:
    """Class names (sorted subfolders, or ``class_names``) and every image under them."""
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
    empty = []
    for index, name in enumerate(names):
        files = _images_under(os.path.join(root, name))
        if not files:
            empty.append(name)
        paths += files
        labels += [index] * len(files)
    if empty:
        raise UsageError(flag, f"class folder(s) with no {'/'.join(IMAGE_EXTENSIONS)} images in '{root}': {empty}")
    return names, FileList(tuple(paths), tuple(labels))


def _images_under(folder: str) -> list[str]:
    files = []
    for directory, _, names in tf.io.gfile.walk(folder):
        files += [os.path.join(directory, n) for n in names if n.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(files)


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


def find_undecodable(paths: Sequence[str], channels: int = 3) -> list[str]:
    """The paths that do not decode as images, found with a parallel decode pass."""
    if not paths:
        return []
    ds = tf.data.Dataset.from_tensor_slices(list(paths)).enumerate()
    ds = ds.map(
        lambda i, path: (i, tf.shape(decode_image(tf.io.read_file(path), channels))[0]),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=False,
    )
    decoded = {int(i) for i, _ in ds.ignore_errors().as_numpy_iterator()}
    return [path for i, path in enumerate(paths) if i not in decoded]


def drop_undecodable(files: FileList, channels: int) -> tuple[FileList, list[str]]:
    bad = find_undecodable(files.paths, channels)
    if not bad:
        return files, []
    bad_set = set(bad)
    return _subset(files, np.array([p not in bad_set for p in files.paths])), bad


def warn_skipped(bad: Sequence[str], total: int) -> None:
    if not bad:
        return
    shown = ", ".join(bad[:WARN_PATHS]) + (f", ... ({len(bad) - WARN_PATHS} more)" if len(bad) > WARN_PATHS else "")
    logging.warning("skipped %d of %d files that are not decodable images: %s", len(bad), total, shown)


def load(
    image_dir: str,
    val_dir: str | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    check_images: bool = True,
    channels: int = 3,
    test_dir: str | None = None,
) -> ImageFolder:
    """Scan, split and decode-check a folder tree; every user error is raised here, before training."""
    class_names, files = scan(image_dir)
    if val_dir:
        splits = {params.TRAIN: files, params.VALIDATION: scan(val_dir, "val_dir", class_names)[1]}
    else:
        splits = dict(zip((params.TRAIN, params.VALIDATION), split(files, val_fraction, seed), strict=True))
    if test_dir:
        splits[params.TEST] = scan(test_dir, "test_dir", class_names)[1]
    skipped: list[str] = []
    if check_images:
        for role, role_files in splits.items():
            splits[role], bad = drop_undecodable(role_files, channels)
            skipped += bad
        warn_skipped(skipped, sum(len(f) for f in splits.values()) + len(skipped))
    flags = {
        params.TRAIN: ("image_dir", image_dir),
        params.VALIDATION: ("val_dir" if val_dir else "val_fraction", val_dir),
    }
    flags[params.TEST] = ("test_dir", test_dir)
    for role, role_files in splits.items():
        if not len(role_files):
            flag, where = flags[role]
            where = f"'{where}'" if where else f"the {val_fraction:.0%} validation split of '{image_dir}'"
            raise UsageError(flag, f"no decodable images for the {role} role in {where}")
    return ImageFolder(image_dir, class_names, splits, tuple(skipped))


def make_input_fn(
    files: FileList,
    mode: str,
    batch_size: int,
    input_name: str,
    image_spec: ImageSpec,
    options: PipelineOptions = DEFAULT_OPTIONS,
    augment: AugmentParams = NO_AUGMENTATION,
    skip_errors: bool = False,
) -> InputFn:
    """An Estimator input_fn yielding ``({input_name: images}, labels)`` from ``files``.

    ``skip_errors`` drops files that fail to decode during training (for when
    the up-front check was switched off); tf.data logs each one it drops.
    """
    if not len(files):
        raise UsageError("image_dir", "no images in this split")
    training = mode == TRAIN
    cached = options.cache != pipeline_ops.CACHE_NONE
    stages = image_stages(image_spec, training, augment, read=tf.io.read_file, cached=cached)

    def build(mode: str, input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((list(files.paths), np.array(files.labels, np.int64)))
        ds = pipeline_ops.shard(ds, input_context)
        if training:
            # File-level shuffle over every path: cheap, and it covers the whole split.
            ds = ds.shuffle(len(files), seed=options.seed, reshuffle_each_iteration=True)
        return stages.finish(
            ds,
            mode,
            batch_size,
            options,
            input_context,
            input_name,
            sharded=True,
            element_shuffle=False,
            skip_errors=skip_errors,
        )

    return pipeline_ops.make_input_fn(build, mode)
