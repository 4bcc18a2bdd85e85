"""The training flow: dataset -> input_fns -> Keras model -> Estimator -> train_and_evaluate -> export."""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import TextIO

import tensorflow as tf

from common.errors import UsageError
from common.filesystem import ensure_writable_dir, remove_dir
from estimators import conversion, serving
from estimators.distribution import make_strategy
from estimators.hooks import ProgressHook, format_duration
from estimators.models import PREPROCESSING, ModelSpec, build_model
from input_fns import tfds_source
from input_fns.preprocessing import ImageSpec
from pipeline.config import Hparams

EXPORTER_NAME = "serving"


@dataclasses.dataclass(frozen=True)
class RunSummary:
    accuracy: float
    loss: float
    global_step: int
    examples_per_sec: float | None
    train_seconds: float
    export_path: str
    model_dir: str

    def format(self) -> str:
        rate = f"{self.examples_per_sec:,.0f}" if self.examples_per_sec else "n/a"
        return "\n".join(
            [
                f"test accuracy     {self.accuracy:.4f}",
                f"test loss         {self.loss:.4f}",
                f"global step       {self.global_step}",
                f"examples/sec      {rate}",
                f"wall time         {format_duration(self.train_seconds)} (train and evaluate)",
                f"model_dir         {self.model_dir}",
                f"export            {self.export_path}",
            ]
        )


def image_spec_for(hp: Hparams, meta: tfds_source.DatasetMeta) -> ImageSpec:
    height, width, channels = meta.image_shape
    size = hp.data.image_size
    if size is None and (height is None or width is None):
        raise UsageError("image_size", f"'{meta.name}' has images of varying size; set --image_size")
    return ImageSpec(
        height=size or height,
        width=size or width,
        channels=channels,
        preprocessing=PREPROCESSING.get(hp.model.name, "unit"),
    )


def run(hp: Hparams, stream: TextIO = sys.stdout) -> RunSummary:
    """Train, evaluate and export one model as ``hp`` says; returns the summary."""
    out = hp.output
    if out.overwrite_model_dir:
        remove_dir(out.model_dir)
    ensure_writable_dir(out.model_dir, "model_dir")

    builder = tfds_source.load_builder(hp.data.dataset, hp.data.data_dir, hp.data.download)
    meta = tfds_source.dataset_meta(builder)
    image = image_spec_for(hp, meta)
    spec = ModelSpec(
        image=image, num_classes=meta.num_classes, learning_rate=hp.model.learning_rate, dropout=hp.model.dropout
    )

    tf.keras.utils.set_random_seed(hp.training.seed)
    model = build_model(hp.model.name, spec)
    strategy = make_strategy(hp.distribution.strategy, hp.distribution.num_gpus)
    run_config = conversion.make_run_config(
        out.model_dir, out.checkpoints, seed=hp.training.seed, train_distribute=strategy, eval_distribute=strategy
    )
    estimator = conversion.with_class_outputs(conversion.keras_to_estimator(model, run_config), meta.class_names)

    def input_fn(split: str, mode: str):
        return tfds_source.make_input_fn(
            builder,
            split,
            mode,
            hp.training.batch_size,
            spec.input_name,
            image,
            seed=hp.training.seed,
            shuffle_buffer=hp.data.shuffle_buffer,
        )

    labels_path = serving.write_labels(out.model_dir, meta.class_names)
    receiver_fn = serving.image_bytes_receiver_fn(spec.input_name, image)
    exporter = tf.estimator.FinalExporter(EXPORTER_NAME, receiver_fn, assets_extra={serving.LABELS_FILE: labels_path})
    progress = ProgressHook(hp.training.train_steps, hp.training.batch_size, hp.training.progress_every_steps, stream)
    train_spec = tf.estimator.TrainSpec(
        input_fn(hp.data.train_split, tfds_source.TRAIN), max_steps=hp.training.train_steps, hooks=[progress]
    )
    eval_spec = tf.estimator.EvalSpec(
        input_fn(hp.data.eval_split, tfds_source.EVAL),
        steps=hp.training.eval_steps,
        exporters=[exporter],
        start_delay_secs=0,
        throttle_secs=hp.training.eval_throttle_secs,
    )

    started = time.perf_counter()
    metrics, export_paths = tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
    if not metrics or not export_paths:
        # The model_dir was already trained to max_steps: nothing new was
        # checkpointed, so train_and_evaluate neither evaluated nor exported.
        metrics = estimator.evaluate(eval_spec.input_fn, steps=eval_spec.steps)
        export_paths = [
            estimator.export_saved_model(
                f"{out.model_dir}/export/{EXPORTER_NAME}",
                receiver_fn,
                assets_extra={serving.LABELS_FILE: labels_path},
            )
        ]
    elapsed = time.perf_counter() - started
    export_path = export_paths[-1]
    return RunSummary(
        accuracy=float(metrics["accuracy"]),
        loss=float(metrics["loss"]),
        global_step=int(metrics["global_step"]),
        examples_per_sec=progress.examples_per_sec,
        train_seconds=elapsed,
        export_path=export_path.decode() if isinstance(export_path, bytes) else str(export_path),
        model_dir=out.model_dir,
    )
