"""The ``arrays`` source: in-memory NumPy arrays (an ``.npz`` file, or arrays from Python), images or features.

The arrays become constants of the input graph, so keep them to a few
hundred MB; larger data belongs in TFRecord files.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from common.errors import UsageError
from common.params import FEATURES, IMAGES, TEST, TRAIN, VALIDATION, AugmentParams, DataParams
from input_fns import pipeline_ops
from input_fns.augmentation import NO_AUGMENTATION, image_stages
from input_fns.pipeline_ops import DEFAULT_OPTIONS, InputFn, InputRequest, PipelineOptions
from input_fns.source_base import Opened, SourceMeta, class_names, described

Features = np.ndarray | Mapping[str, np.ndarray]
FEATURES_KEY = "features"  # the one input of a 2-D feature array
# The arrays of each role in an --array_file (.npz); validation is carved off train when absent.
NPZ_KEYS = {TRAIN: ("x_train", "y_train"), VALIDATION: ("x_val", "y_val"), TEST: ("x_test", "y_test")}


def open(data: DataParams, seed: int | None, options: PipelineOptions) -> Opened:
    """``--array_file``'s roles: uint8 images [N, H, W(, C)] or 2-D features, integer class labels."""
    splits, carved = load_npz(data.array_file, data.val_fraction, seed or 0)
    x_train, _ = splits[TRAIN]
    images = x_train.dtype == np.uint8 and x_train.ndim in (3, 4)
    if not images and x_train.ndim != 2:
        raise UsageError("array_file", f"x_train {x_train.dtype} {x_train.shape}: want uint8 images or 2-D features")
    top = max(int(np.max(labels)) for _, labels in splits.values())
    named = {r: f"{data.array_file} {x}" for r, (x, _) in NPZ_KEYS.items() if not (carved and r == VALIDATION)}
    meta = SourceMeta(
        data.array_file,
        IMAGES if images else FEATURES,
        class_names(data.class_names, top),
        {role: len(labels) for role, (_, labels) in splits.items()},
        described(splits, named, data),
        image_shape=(*x_train.shape[1:3], x_train.shape[3] if x_train.ndim == 4 else 1) if images else None,
        features=() if images else ((FEATURES_KEY, int(x_train.shape[1])),),
    )
    augment = data.augment if images else NO_AUGMENTATION

    def factory(role: str, request: InputRequest) -> InputFn:
        x, y = splits[role]
        features = x if images else {FEATURES_KEY: x.astype(np.float32)}
        return input_fn(features, y, request, options, augment)

    return meta, factory


def load_npz(path: str | None, val_fraction: float, seed: int) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], bool]:
    """Each role's (x, y) from an .npz file (read without pickle: a data file runs no code), and
    whether validation was carved off train."""
    if not path:
        raise UsageError(
            "array_file", "not set; --source=arrays reads x_train, y_train[, x_val, y_val, x_test, y_test]"
        )
    try:
        with tf.io.gfile.GFile(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, tf.errors.OpError) as err:
        raise UsageError("array_file", f"cannot read '{path}' as an .npz file: {str(err).splitlines()[0]}") from None
    splits = {}
    for role, (x, y) in NPZ_KEYS.items():
        if x in arrays and y in arrays:
            check_arrays(arrays[x], arrays[y])
            splits[role] = (arrays[x], arrays[y].astype(np.int64))
    if TRAIN not in splits:
        raise UsageError("array_file", f"'{path}' holds {sorted(arrays)}; needs x_train and y_train")
    if VALIDATION in splits:
        return splits, False
    x, y = splits[TRAIN]
    if not 0.0 < val_fraction < 1.0:
        raise UsageError("val_fraction", f"{val_fraction}; must be between 0 and 1 (or store x_val, y_val)")
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(round(len(y) * val_fraction))
    if not 0 < cut < len(y):
        raise UsageError("val_fraction", f"{val_fraction} of {len(y)} examples leaves a role empty")
    splits[TRAIN], splits[VALIDATION] = (x[order[cut:]], y[order[cut:]]), (x[order[:cut]], y[order[:cut]])
    return splits, True


def check_arrays(features: Features, labels: np.ndarray | None) -> int:
    """The number of examples; a usage error when there are none or the lengths differ."""
    arrays = dict(features) if isinstance(features, Mapping) else {"features": features}
    if labels is not None:
        arrays["labels"] = labels
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise UsageError("features", f"arrays of different lengths: {lengths}")
    count = next(iter(lengths.values()))
    if count == 0:
        raise UsageError("features", "no examples (empty arrays)")
    return count


def input_fn(
    features: Features,
    labels: np.ndarray | None,
    request: InputRequest,
    options: PipelineOptions = DEFAULT_OPTIONS,
    augment: AugmentParams = NO_AUGMENTATION,
) -> InputFn:
    """An Estimator input_fn over arrays.

    - ``request.image_spec`` set: ``features`` is uint8 images [N, H, W(, C)]
      and the input_fn yields ``({input_name: images}, labels)``, prepared and
      augmented like every other image source.
    - otherwise ``features`` is a dict of arrays (keyed as the Keras inputs or
      feature columns expect) or one array under ``request.input_name``.
    ``labels`` may be None for PREDICT.
    """
    count = check_arrays(features, labels)
    if labels is None:
        if request.mode != pipeline_ops.PREDICT:
            raise UsageError("labels", f"{request.mode} needs labels")
        labels = np.zeros([count], np.int64)
    image = request.image_spec is not None
    if image:
        features = _image_array(features)
    elif not isinstance(features, Mapping):
        if request.input_name is None:
            raise UsageError("input_name", "one feature array needs the model's input name")
        features = {request.input_name: features}
    cached = options.cache != pipeline_ops.CACHE_NONE
    training = request.mode == pipeline_ops.FIT
    stages = image_stages(request.image_spec, training, augment, cached=cached) if image else None

    def build(mode: str, input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((features, labels))
        if image:
            return stages.finish(ds, mode, request.batch_size, options, input_context, request.input_name)
        return pipeline_ops.finish(ds, mode, request.batch_size, options, input_context)

    return pipeline_ops.estimator_input_fn(build, request.mode)


def _image_array(features: Features) -> np.ndarray:
    if isinstance(features, Mapping) or features.dtype != np.uint8 or features.ndim not in (3, 4):
        shape = "a dict" if isinstance(features, Mapping) else f"{features.dtype} {features.shape}"
        raise UsageError("features", f"images must be one uint8 array [N, H, W] or [N, H, W, C]; got {shape}")
    return features[..., None] if features.ndim == 3 else features
