"""What a model is trained to do: the registry of tasks, one record and one module each.

One record per task. Engines choose the model on ``metric``, report
``metrics`` (as Keras names them) and read the prediction ``output``; the
flag layer lists the tasks from here; the sources read ``labels`` from the
sources a task names. Everything a task does with TensorFlow (its head, loss,
serving outputs, evaluation and report) lives in its ``module``, imported when
it is used. No TensorFlow import here.
"""

from __future__ import annotations

import dataclasses

from common.errors import UsageError

CLASSIFICATION, REGRESSION, SEGMENTATION, FORECASTING = "classification", "regression", "segmentation", "forecasting"
LANGUAGE_MODEL = "language_model"
DETECTION = "detection"
TEXT_CLASSIFICATION = "text_classification"
SUPER_RESOLUTION, DENOISING = "super_resolution", "denoising"
GAN = "gan"


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    metric: str  # chooses the model: the best export and, by default, early stopping
    higher_is_better: bool
    metrics: tuple[str, ...]  # what the engines evaluate and report, the loss last
    output: str  # the model's output layer and the prediction key of engines and exports
    labels: str  # what the data gives per example: one of LABELS
    sources: tuple[str, ...]  # the sources (common.params.SOURCES) that can feed it
    module: str  # the task's plug-in (estimators/tasks): head, loss, outputs, evaluation and report
    corruption: str = ""  # CLEAN_IMAGES: how the input is made from the clean image (input_fns/image_pairs.py)
    reads_text: bool = False  # its input is raw strings (params.TEXT), whichever source reads them

    def __post_init__(self) -> None:
        if self.labels not in LABELS:
            raise ValueError(f"task {self.name}: labels '{self.labels}' not in {LABELS}")

    @property
    def predicts_value(self) -> bool:
        """One number per example (regression, forecasting), not class probabilities."""
        return self.labels in (VALUES, WINDOWS)


# What a source reads as the label: a class id, a number, a class id per pixel, the series itself.
CLASSES, VALUES, MASKS, WINDOWS = "classes", "values", "masks", "windows"
NEXT_CHARS = "next_chars"  # a text's characters shifted by one: the next character at every position
BOXES = "boxes"  # objects/bbox and objects/label, encoded per grid cell by the source
# ... or the clean image itself, the input a corrupted copy made in the input pipeline (input_fns/image_pairs.py).
CLEAN_IMAGES = "clean_images"
LABELS = (CLASSES, VALUES, MASKS, WINDOWS, NEXT_CHARS, BOXES, CLEAN_IMAGES)
_RECORD_SOURCES = ("tfds", "image_folder", "tfrecord", "csv", "arrays")

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            CLASSIFICATION,
            "accuracy",
            True,
            ("accuracy", "loss"),
            "probabilities",
            CLASSES,
            _RECORD_SOURCES,
            "estimators.tasks.classification",
        ),
        # Lecture 03's Boston-housing DNN: mean squared error loss, mean absolute error metric.
        Task(
            REGRESSION,
            "mae",
            False,
            ("mae", "loss"),
            "predictions",
            VALUES,
            ("csv", "tfds"),
            "estimators.tasks.regression",
        ),
        # Deep Learning with Python ch. 9: per-pixel classes; the intersection over union decides.
        Task(
            SEGMENTATION,
            "mean_iou",
            True,
            ("mean_iou", "pixel_accuracy", "loss"),
            "probabilities",
            MASKS,
            ("tfds", "image_folder"),
            "estimators.tasks.segmentation",
        ),
        # Deep Learning with Python ch. 10 (Jena climate): mse loss, mae in the target's units, a value per window.
        Task(
            FORECASTING,
            "mae",
            False,
            ("mae", "loss"),
            "forecast",
            WINDOWS,
            ("timeseries",),
            "estimators.tasks.forecasting",
        ),
        # The course's character-level RNN (The Time Machine): the next character at every position; perplexity.
        Task(
            LANGUAGE_MODEL,
            "perplexity",
            False,
            ("perplexity", "loss"),
            "probabilities",
            NEXT_CHARS,
            ("text_corpus",),
            "estimators.tasks.language_model",
        ),
        # A single-stage (CenterNet-style) detector: a class heatmap and a box per grid cell. The chooser is
        # the loss; COCO mAP needs decoding and matching, which the report does with pycocotools.
        Task(
            DETECTION,
            "loss",
            False,
            ("loss",),
            "grid",
            BOXES,
            ("tfds",),
            "estimators.tasks.detection",
        ),
        # The course's Embedding + LSTM classifier: raw strings in, a class out, against a bag-of-words baseline.
        Task(
            TEXT_CLASSIFICATION,
            "accuracy",
            True,
            ("accuracy", "loss"),
            "probabilities",
            CLASSES,
            ("text_folder", "tfds", "csv"),
            "estimators.tasks.text_classification",
            reads_text=True,
        ),
        # Lecture 12 (EDSR on DIV2K): the image from its bicubic downgrade; PSNR decides, SSIM beside it.
        Task(
            SUPER_RESOLUTION,
            "psnr",
            True,
            ("psnr", "ssim", "loss"),
            "upscaled",
            CLEAN_IMAGES,
            ("tfds",),
            "estimators.tasks.super_resolution",
            corruption="bicubic_downgrade",
        ),
        # The autoencoder chapters: the clean image from a noisy copy; PSNR decides, the mse is the loss.
        Task(
            DENOISING,
            "psnr",
            True,
            ("psnr", "loss"),
            "denoised",
            CLEAN_IMAGES,
            ("tfds",),
            "estimators.tasks.denoising",
            corruption="gaussian_noise",
        ),
        # The GAN chapters' DCGAN: images only (any class labels the source reads are not used); the losses of
        # the two players do not measure quality, so the report's Frechet distance judges it, not a metric here.
        Task(
            GAN,
            "loss",
            False,
            ("loss",),
            "images",
            CLASSES,
            _RECORD_SOURCES,  # the image sources (a csv's named features the dcgan entry refuses: it reads images)
            "estimators.tasks.gan",
        ),
    )
}
# Every metric early stopping can watch, across tasks, and those where higher is better.
EARLY_STOPPING_METRICS = tuple(dict.fromkeys(m for task in TASKS.values() for m in task.metrics))
HIGHER_IS_BETTER = frozenset({"accuracy", "mean_iou", "pixel_accuracy", "psnr", "ssim"})


def get(name: str) -> Task:
    if name not in TASKS:
        raise UsageError("task", f"unknown task '{name}'; allowed: {', '.join(TASKS)}")
    return TASKS[name]
