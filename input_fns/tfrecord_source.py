"""The ``tfrecord`` source: TFRecord files of tf.Example, with a declared feature spec.

The spec is declared as ``name:type[shape]`` items, for example
``image:bytes,label:int64`` (what TFDS writes for an image dataset) or
``age:float32,tags:int64[3],label:int64``. A ``bytes`` image feature holds an
encoded image (decoded and resized like an image file); a numeric image
feature holds raw pixels with a declared shape.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import tensorflow as tf

from common.errors import UsageError
from common.params import FEATURES, IMAGES, TRAIN, VALIDATION, AugmentParams, DataParams
from input_fns import pipeline_ops
from input_fns.augmentation import NO_AUGMENTATION, image_stages
from input_fns.pipeline_ops import DEFAULT_OPTIONS, FIT, InputFn, InputRequest, PipelineOptions
from input_fns.source_base import Opened, SourceMeta, class_names, role_files

TYPES = {"bytes": tf.string, "string": tf.string, "int64": tf.int64, "float": tf.float32, "float32": tf.float32}
_ITEM = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*:\s*([a-z0-9]+)\s*(?:\[([0-9, ]*)\])?\s*$")


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """Feature name -> (dtype, shape) of the tf.Examples, and which ones are the label and the image."""

    features: tuple[tuple[str, tf.DType, tuple[int, ...]], ...]
    label_key: str = "label"
    image_key: str | None = "image"

    def __post_init__(self) -> None:
        names = [name for name, _, _ in self.features]
        if self.label_key not in names:
            raise UsageError("label_key", f"'{self.label_key}' is not in the feature spec {names}")
        if self.image_key is not None and self.image_key not in names:
            raise UsageError("image_key", f"'{self.image_key}' is not in the feature spec {names}")

    def parsing_spec(self) -> dict[str, tf.io.FixedLenFeature]:
        return {name: tf.io.FixedLenFeature(shape, dtype) for name, dtype, shape in self.features}

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.features if name != self.label_key)


def parse_feature_spec(text: str, label_key: str = "label", image_key: str | None = "image") -> FeatureSpec:
    """``'image:bytes,label:int64'`` -> FeatureSpec; an image_key absent from the spec means tabular."""
    features = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = _ITEM.match(item)
        if not match or match.group(2) not in TYPES:
            raise UsageError(
                "feature_spec", f"'{item}' is not name:type[shape] with type one of {', '.join(sorted(TYPES))}"
            )
        name, type_name, shape = match.groups()
        dims = tuple(int(d) for d in shape.replace(" ", "").split(",") if d) if shape else ()
        features.append((name, TYPES[type_name], dims))
    if not features:
        raise UsageError("feature_spec", "empty; declare the features as name:type[shape],...")
    names = [name for name, _, _ in features]
    if image_key is not None and image_key not in names:
        image_key = None
    return FeatureSpec(tuple(features), label_key, image_key)


def resolve_files(patterns: str | None, flag: str) -> list[str]:
    """Comma-separated glob patterns -> sorted files; an error when one matches nothing."""
    if not patterns:
        raise UsageError(flag, "not set; pass one or more file patterns (comma-separated, local or gs://)")
    files: list[str] = []
    for pattern in filter(None, (p.strip() for p in patterns.split(","))):
        matched = tf.io.gfile.glob(pattern)
        if not matched:
            raise UsageError(flag, f"'{pattern}' matches no files")
        files += matched
    return sorted(set(files))


def _reader(files: list[str], on_corrupt: str = pipeline_ops.ON_CORRUPT_FAIL):
    compression = pipeline_ops.compression_of(files)

    def read(path: tf.Tensor) -> tf.data.Dataset:
        # Per file, so a corrupt shard ends only its own stream (skip), never the interleave.
        return pipeline_ops.skip_corrupt(tf.data.TFRecordDataset(path, compression_type=compression), on_corrupt)

    return read


def open(data: DataParams, seed: int | None, options: PipelineOptions) -> Opened:
    """The files of each role (validation named: it chooses the model), every record checked and its label read."""
    spec = parse_feature_spec(data.feature_spec, data.label_key, data.image_key)
    patterns = role_files(data)
    if VALIDATION not in patterns:
        raise UsageError("validation_files", "required with --source=tfrecord (the data that chooses the model)")
    files = {role: resolve_files(p, f"{role}_files") for role, p in patterns.items()}
    sizes, top_label = {}, -1
    for role, paths in files.items():
        labels = _role_labels(paths, spec, options.on_corrupt_record, role, patterns[role])
        sizes[role] = len(labels)
        top_label = max(top_label, int(np.max(labels)))
    meta = SourceMeta(
        data.train_files,
        IMAGES if spec.image_key else FEATURES,
        class_names(data.class_names, top_label),
        sizes,
        patterns,
        image_shape=_image_shape(spec),
        features=() if spec.image_key else tuple((n, _width(s)) for n, _, s in spec.features if n != spec.label_key),
        train_files=tuple(files[TRAIN]),
        gate_format="tfrecord",
    )

    def factory(role: str, request: InputRequest) -> InputFn:
        return input_fn(files[role], spec, request, options, data.augment)

    return meta, factory


def _role_labels(paths, spec: FeatureSpec, on_corrupt: str, role: str, pattern: str) -> np.ndarray:
    pipeline_ops.check_records(paths, on_corrupt, f"{role}_files")
    try:
        labels = scan_labels(paths, spec, on_corrupt)
    except tf.errors.OpError as err:
        raise UsageError(f"{role}_files", f"not TFRecords of tf.Example with {spec.label_key}: {err.message}") from None
    if not len(labels):
        raise UsageError(f"{role}_files", f"'{pattern}' holds no records")
    return labels


def _image_shape(spec: FeatureSpec) -> tuple | None:
    if spec.image_key is None:
        return None
    shape = dict((n, s) for n, _, s in spec.features)[spec.image_key]
    return (*shape[:2], shape[2] if len(shape) > 2 else 1) if len(shape) >= 2 else (None, None, 3)


def _width(shape) -> int:
    return int(np.prod(shape)) if shape else 1


def scan_labels(files: list[str], spec: FeatureSpec, on_corrupt: str = pipeline_ops.ON_CORRUPT_FAIL) -> np.ndarray:
    """Every label in ``files`` (parsing only the label): for class counts and split sizes."""
    label_only = {spec.label_key: spec.parsing_spec()[spec.label_key]}
    ds = tf.data.Dataset.from_tensor_slices(files).interleave(
        _reader(files, on_corrupt), num_parallel_calls=tf.data.AUTOTUNE
    )
    ds = ds.batch(4096).map(lambda records: tf.io.parse_example(records, label_only)[spec.label_key])
    chunks = list(ds.as_numpy_iterator())
    return np.concatenate(chunks) if chunks else np.zeros([0], np.int64)


def input_fn(
    files: list[str],
    spec: FeatureSpec,
    request: InputRequest,
    options: PipelineOptions = DEFAULT_OPTIONS,
    augment: AugmentParams = NO_AUGMENTATION,
) -> InputFn:
    """An Estimator input_fn over tf.Examples in ``files``.

    With an image feature: ``({input_name: images}, labels)``. Without one:
    ``({feature_name: values}, labels)`` for feature columns or a Keras model
    with one input per feature.
    """
    if not files:
        raise UsageError("train_files", "no TFRecord files")
    parsing = spec.parsing_spec()
    image = spec.image_key is not None
    if image and (request.image_spec is None or request.input_name is None):
        raise UsageError("image_key", f"'{spec.image_key}' is an image: pass the model's image spec and input name")
    encoded = image and dict((n, t) for n, t, _ in spec.features)[spec.image_key] == tf.string
    read = tf.identity if encoded else None
    cached = options.cache != pipeline_ops.CACHE_NONE
    stages = image_stages(request.image_spec, request.mode == FIT, augment, read, cached) if image else None

    def parse(record: tf.Tensor) -> tuple:
        example = tf.io.parse_single_example(record, parsing)
        label = example.pop(spec.label_key)
        if not image:
            return example, label
        pixels = example[spec.image_key]
        if not encoded:
            pixels = tf.saturate_cast(pixels, tf.uint8)
            if pixels.shape.rank == 2:
                pixels = pixels[..., None]
        return stages.decode(pixels, label)

    def build(mode: str, input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
        ds, by_file = pipeline_ops.read_files(
            files, _reader(files, options.on_corrupt_record), mode, options, input_context
        )
        sharded = by_file or input_context is None
        if image:
            return stages.finish(
                ds, mode, request.batch_size, options, input_context, request.input_name, decode=parse, sharded=sharded
            )
        return pipeline_ops.finish(ds, mode, request.batch_size, options, input_context, decode=parse, sharded=sharded)

    return pipeline_ops.estimator_input_fn(build, request.mode)
