"""Fitting a model to its data: the image input or the features it reads, and its ModelSpec.

A model's registry entry says what it reads; a source's meta says what it
yields. An image model on named features is a usage error naming the models
that fit; a features model on images reads their flattened pixels.
"""

from __future__ import annotations

from common.errors import UsageError
from common.params import CHARACTERS, FEATURES, IMAGES, SERIES, TEXT, DataParams, ModelParams, TrainingParams
from estimators.models import registry
from estimators.models.registry import ModelEntry
from estimators.models.spec import WEIGHTS_IMAGENET, ModelSpec
from estimators.training.optimizers import OptimizerSpec
from input_fns.preprocessing import ImageSpec
from input_fns.sources import FLATTENED, SourceMeta
from input_fns.text_corpus import CHARS_INPUT
from input_fns.text_source import TEXT_INPUT
from input_fns.timeseries_source import WINDOW_INPUT

# The kinds of data only the models of that kind read (and that read nothing else).
_OWN_KIND = (SERIES, TEXT, CHARACTERS)
_INPUT_NAMES = {SERIES: WINDOW_INPUT, TEXT: TEXT_INPUT, CHARACTERS: CHARS_INPUT}


def image_spec_for(data: DataParams, model: ModelParams, entry: ModelEntry, meta: SourceMeta) -> ImageSpec | None:
    """The model's image input for an image source (None for a features or series source); refuses a misfit."""
    for kind in _OWN_KIND:
        if (meta.kind == kind) != (entry.inputs == kind):
            fits = ", ".join(name for name, e in registry.MODELS.items() if _reads(e, meta.kind))
            raise UsageError(
                "model", f"'{entry.name}' reads {entry.inputs}; '{meta.name}' holds {meta.kind} ({fits} fit)"
            )
    if meta.kind in _OWN_KIND:
        return None
    if meta.kind == FEATURES:
        if entry.inputs == IMAGES:
            fits = ", ".join(name for name, e in registry.MODELS.items() if e.inputs == FEATURES)
            raise UsageError("model", f"'{entry.name}' reads images; '{meta.name}' holds named features ({fits} fit)")
        return None
    height, width, channels = meta.image_shape
    size = data.image_size
    if size is None and (height is None or width is None):
        raise UsageError("image_size", f"'{meta.name}' does not fix one image size (an image folder may vary); set it")
    image = ImageSpec(
        height=size or height,
        width=size or width,
        channels=3 if entry.rgb else channels,
        preprocessing=entry.preprocessing,
    )
    if image.height % entry.size_multiple or image.width % entry.size_multiple:
        raise UsageError(
            "image_size",
            f"'{entry.name}' needs sides divisible by {entry.size_multiple}; got {image.height}x{image.width}",
        )
    entry.check_image(image.height, image.width, imagenet=model.weights == WEIGHTS_IMAGENET)
    return image


def _reads(entry: ModelEntry, kind: str) -> bool:
    """Whether ``entry`` can read data of ``kind`` (a features model reads images as flattened pixels)."""
    if kind in _OWN_KIND or entry.inputs in _OWN_KIND:
        return entry.inputs == kind
    return entry.inputs in (kind, FEATURES)


def model_spec_for(
    model: ModelParams,
    training: TrainingParams,
    task: str,
    entry: ModelEntry,
    meta: SourceMeta,
    image: ImageSpec | None,
) -> ModelSpec:
    """The model ``entry`` builds for ``task`` on ``meta``'s data, with ``model``'s settings and ``training``'s optimizer."""
    features = meta.features
    if entry.inputs == FEATURES and image is not None:  # an image source read as flattened pixels
        features = ((FLATTENED, image.height * image.width * image.channels),)
    return ModelSpec(
        image=image if entry.inputs == IMAGES else None,
        num_classes=meta.num_classes,
        task=task,
        learning_rate=model.learning_rate,
        dropout=model.dropout,
        optimizer=OptimizerSpec(
            name=training.optimizer,
            momentum=training.momentum,
            schedule=training.lr_schedule,
            decay_steps=training.lr_decay_steps,
            decay_rate=training.lr_decay_rate,
            warmup_steps=training.warmup_steps,
            total_steps=training.train_steps,
        ),
        label_smoothing=training.label_smoothing,
        weights=model.weights,
        trainable_base=model.trainable_base,
        l2=model.l2,
        hub_handle=model.hub_handle,
        features=features if entry.inputs in (FEATURES, CHARACTERS) else (),  # characters: (input, sequence length)
        hidden_units=tuple(model.hidden_units),
        augment=model.augment,
        series=meta.series if entry.inputs == SERIES else None,
        recurrent_dropout=model.recurrent_dropout,
        vocabulary=meta.vocabulary if entry.inputs == TEXT else (),
        scale=meta.upscale,
        **({"input_name": _INPUT_NAMES[entry.inputs]} if entry.inputs in _INPUT_NAMES else {}),
    )
