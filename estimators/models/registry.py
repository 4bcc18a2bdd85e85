"""Every model kestrel trains, one record each: what it takes, how it is built, what applies to it.

The registry imports no TensorFlow (builders are named as ``module:function``
and imported when a model is built), so the flag layer can list the models and
the run flow can refuse a model that does not fit the data before anything
loads.
"""

from __future__ import annotations

import dataclasses
import importlib

from common.errors import UsageError
from common.params import CHARACTERS, FEATURES, IMAGES, SERIES, TEXT
from common.tasks import (
    CLASSIFICATION,
    DENOISING,
    DETECTION,
    FORECASTING,
    GAN,
    LANGUAGE_MODEL,
    REGRESSION,
    SEGMENTATION,
    SUPER_RESOLUTION,
    TEXT_CLASSIFICATION,
)
from estimators.models.backbones import BACKBONES, Backbone
from estimators.models.image_size import check_image_size


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    name: str
    # "module:function" taking a ModelSpec (a backbone's: its name and a ModelSpec); a canned
    # Estimator's is its Estimator factory.
    builder: str
    inputs: str  # IMAGES, FEATURES, SERIES, TEXT or CHARACTERS (common.params)
    preprocessing: str = "unit"  # input_fns.preprocessing: the normalisation the weights expect
    rgb: bool = False  # takes 3 channels whatever the data stores (grayscale is repeated)
    pretrained_base: bool = False  # a frozen base: fine-tuning and the bottleneck cache apply
    canned: bool = False  # a canned Estimator: the estimator engine only
    min_image_size: int = 1
    imagenet_sizes: tuple[int, ...] | None = None  # the square sizes its ImageNet weights take; None: any
    backbone: str | None = None  # family name of a tf.keras.applications backbone (estimators/models/backbones.py)
    size_multiple: int = 1  # image sides must divide by it (an encoder-decoder's stride-2 stages)
    tasks: tuple[str, ...] = (CLASSIFICATION,)  # common.tasks this model's head and loss serve
    # "module:function" that makes a further SavedModel from the serving export (its path in, the new path out),
    # and what the run calls it: the denoiser's encoder as a feature extractor.
    extra_export: tuple[str, str] | None = None

    def load_builder(self):
        """The function that builds this model from a ModelSpec."""
        module, _, function = self.builder.partition(":")
        build = getattr(importlib.import_module(module), function)
        if self.backbone is None:
            return build
        name = self.name
        return lambda spec: build(name, spec)

    def write_extra_export(self, export_dir: str) -> str | None:
        """The further SavedModel made from the serving export at ``export_dir`` (None: this model has none)."""
        if self.extra_export is None:
            return None
        module, _, function = self.extra_export[1].partition(":")
        return getattr(importlib.import_module(module), function)(export_dir)

    def check_image(self, height: int, width: int, imagenet: bool) -> None:
        """The model's input-size rules (``imagenet``: with ImageNet weights), checked before anything is built."""
        check_image_size(self.name, height, width, self.min_image_size, self.imagenet_sizes, imagenet)


def _forecast(name: str) -> ModelEntry:
    return ModelEntry(name, f"estimators.models.forecast:build_{name}", SERIES, tasks=(FORECASTING,))


def _text(name: str, function: str) -> ModelEntry:
    return ModelEntry(name, f"estimators.models.text:{function}", TEXT, tasks=(TEXT_CLASSIFICATION,))


def _cnn(name: str, function: str, **kw) -> ModelEntry:
    return ModelEntry(name, f"estimators.models.cifar_cnn:{function}", IMAGES, rgb=True, min_image_size=8, **kw)


def _transfer(backbone: Backbone) -> ModelEntry:
    return ModelEntry(
        backbone.name,
        "estimators.models.transfer:build_transfer",
        IMAGES,
        preprocessing=backbone.convention,
        rgb=True,
        pretrained_base=True,
        min_image_size=backbone.min_size,
        imagenet_sizes=backbone.imagenet_sizes,
        backbone=backbone.family.name,
    )


MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        ModelEntry("small_cnn", "estimators.models.small_cnn:build_small_cnn", IMAGES),
        _cnn("basic_cnn", "build_basic_cnn"),
        _cnn("deep_cnn", "build_deep_cnn"),
        ModelEntry(
            "segmenter",
            "estimators.models.segmenter:build_segmenter",
            IMAGES,
            min_image_size=8,
            size_multiple=8,
            tasks=(SEGMENTATION,),
        ),
        ModelEntry("dnn", "estimators.models.dnn:build_dnn", FEATURES, tasks=(CLASSIFICATION, REGRESSION)),
        *(_transfer(backbone) for backbone in BACKBONES.values()),
        ModelEntry("hub", "estimators.models.hub_model:build_hub", IMAGES, rgb=True, pretrained_base=True),
        ModelEntry("canned_dnn", "estimators.models.canned:make_canned_estimator", FEATURES, canned=True),
        ModelEntry("canned_wide_deep", "estimators.models.canned:make_canned_estimator", FEATURES, canned=True),
        # Forecasting (Deep Learning with Python ch. 10): windows of a time series.
        _forecast("dense"),
        _forecast("conv1d"),
        _forecast("lstm"),
        _forecast("gru"),
        # The course's character-level language model: characters of a text, the next one at every step.
        ModelEntry("char_lstm", "estimators.models.char_lm:build_char_lstm", CHARACTERS, tasks=(LANGUAGE_MODEL,)),
        ModelEntry("char_gru", "estimators.models.char_lm:build_char_gru", CHARACTERS, tasks=(LANGUAGE_MODEL,)),
        # Detection: a CenterNet-style head on a stride-4 grid (input sides divide by 8: the stride-8 branch).
        ModelEntry(
            "detector",
            "estimators.models.detector:build_detector",
            IMAGES,
            rgb=True,
            min_image_size=16,
            size_multiple=8,
            tasks=(DETECTION,),
        ),
        ModelEntry(
            "detector_mobilenet_v2",
            "estimators.models.detector:build_detector_mobilenet_v2",
            IMAGES,
            preprocessing="tf",
            rgb=True,
            min_image_size=32,
            size_multiple=8,
            tasks=(DETECTION,),
        ),
        # Text classification (the course's recurrent and transformer chapters): raw strings.
        _text("text_bilstm", "build_bilstm"),
        _text("text_conv1d", "build_conv1d"),
        _text("text_transformer", "build_transformer"),
        _text("text_hub", "build_hub"),
        # Image restoration: lecture 12's EDSR (super-resolution) and a denoising autoencoder.
        ModelEntry("edsr", "estimators.models.edsr:build_edsr", IMAGES, min_image_size=8, tasks=(SUPER_RESOLUTION,)),
        ModelEntry(
            "denoiser",
            "estimators.models.autoencoder:build_denoiser",
            IMAGES,
            min_image_size=8,
            size_multiple=4,
            tasks=(DENOISING,),
            extra_export=("encoder", "estimators.models.autoencoder:export_encoder"),
        ),
        # The GAN chapters' DCGAN: a generator and a discriminator (estimators/models/dcgan.py).
        ModelEntry(
            "dcgan", "estimators.models.dcgan:build_dcgan", IMAGES, min_image_size=4, size_multiple=4, tasks=(GAN,)
        ),
    )
}


def check_task(entry: ModelEntry, task: str) -> None:
    if task not in entry.tasks:
        fits = ", ".join(name for name, e in MODELS.items() if task in e.tasks)
        raise UsageError("task", f"'{entry.name}' does not train for {task}; models that do: {fits}")


def get(name: str) -> ModelEntry:
    if name not in MODELS:
        raise UsageError("model", f"unknown model '{name}'; allowed: {', '.join(MODELS)}")
    return MODELS[name]
