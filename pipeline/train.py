"""The training flow: dataset -> input_fns -> model -> engine (Estimator or Keras) -> evaluate -> export -> report.

``run(hp)`` is the whole flow. It turns the Hparams into a ModelSpec and one
or two engine ``Job``s (stage 1; stage 2 when fine-tuning) and hands them to
the chosen engine (estimators/estimator_engine.py or keras_engine.py, both
behind estimators/engine.py). With the bottleneck cache, stage 1 trains the
head on cached base features and the full model is exported after it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from typing import TextIO

import tensorflow as tf

from common.errors import UsageError
from common.filesystem import ensure_writable_dir, remove_dir
from common.params import Hparams
from estimators import checkpoints, report
from estimators.distribute import cluster as cluster_lib
from estimators.distribute import strategy as distribution
from estimators.engines import EarlyStopping, Engine, Job, Serving, get_engine, set_mixed_precision
from estimators.engines import tpu_estimator as tpu
from estimators.hooks import ProgressHook, format_duration
from estimators.models import PREPROCESSING, RGB_MODELS, TABULAR_MODELS, TRANSFER_MODELS, ModelSpec, build_model
from estimators.models.canned import CANNED_MODELS
from estimators.optimizers import OptimizerSpec
from estimators.serving import receivers as serving
from estimators.serving.keras_export import export_keras_model
from estimators.stages import bottleneck
from estimators.stages.finetune import FineTune, stage2_spec, unfreeze
from input_fns import sources, tfds_source
from input_fns.preprocessing import ImageSpec

EXPORTER_NAME = "serving"
FINE_TUNE_DIR = "fine_tune"
REPORT_DIR = "report"
TABULAR_FEATURE = "pixels"  # an image dataset read by a tabular model: its flattened pixels


@dataclasses.dataclass(frozen=True)
class RunSummary:
    accuracy: float
    loss: float
    global_step: int
    examples_per_sec: float | None
    train_seconds: float
    export_path: str
    model_dir: str
    engine: str = "estimator"
    report_dir: str | None = None
    stages: int = 1
    task: str | None = None  # a TF_CONFIG task other than the chief: it trains, the chief reports

    def format(self) -> str:
        if self.task:
            return f"task {self.task} finished training; the chief evaluates and exports ({self.model_dir})"
        rate = f"{self.examples_per_sec:,.0f}" if self.examples_per_sec else "n/a"
        lines = [
            f"test accuracy     {self.accuracy:.4f}",
            f"test loss         {self.loss:.4f}",
            f"global step       {self.global_step}",
            f"examples/sec      {rate}",
            f"wall time         {format_duration(self.train_seconds)} (train and evaluate)",
            f"engine            {self.engine}" + (f" ({self.stages} stages)" if self.stages > 1 else ""),
            f"model_dir         {self.model_dir}",
        ]
        if self.report_dir:
            lines.append(f"report            {self.report_dir}")
        lines.append(f"export            {self.export_path}")
        return "\n".join(lines)


def image_spec_for(hp: Hparams, meta: tfds_source.DatasetMeta) -> ImageSpec:
    height, width, channels = meta.image_shape
    size = hp.data.image_size
    if size is None and (height is None or width is None):
        raise UsageError("image_size", f"'{meta.name}' has images of varying size; set --image_size")
    return ImageSpec(
        height=size or height,
        width=size or width,
        channels=3 if hp.model.name in RGB_MODELS else channels,
        preprocessing=PREPROCESSING.get(hp.model.name, "unit"),
    )


def is_tabular(name: str) -> bool:
    return name in TABULAR_MODELS or name in CANNED_MODELS


def model_spec_for(hp: Hparams, num_classes: int, image: ImageSpec, steps: int | None = None) -> ModelSpec:
    m, t = hp.model, hp.training
    tabular = is_tabular(m.name)
    return ModelSpec(
        image=None if tabular else image,
        num_classes=num_classes,
        learning_rate=m.learning_rate,
        dropout=m.dropout,
        optimizer=OptimizerSpec(
            name=t.optimizer,
            momentum=t.momentum,
            schedule=t.lr_schedule,
            decay_steps=t.lr_decay_steps,
            decay_rate=t.lr_decay_rate,
            warmup_steps=t.warmup_steps,
            total_steps=steps or t.train_steps,
        ),
        label_smoothing=t.label_smoothing,
        weights=m.weights,
        trainable_base=m.trainable_base,
        l2=m.l2,
        hub_handle=m.hub_handle,
        features=((TABULAR_FEATURE, image.height * image.width * image.channels),) if tabular else (),
        hidden_units=tuple(m.hidden_units),
        augment=m.augment,
    )


def fine_tune_rule(hp: Hparams) -> FineTune | None:
    m = hp.model
    if m.fine_tune_steps <= 0:
        return None
    if m.name not in TRANSFER_MODELS:
        raise UsageError("fine_tune_steps", f"'{m.name}' has no pretrained base to fine-tune")
    return FineTune(m.fine_tune_steps, m.fine_tune_from, m.fine_tune_fraction, m.fine_tune_lr_factor)


@dataclasses.dataclass(frozen=True)
class _Data:
    builder: object
    meta: tfds_source.DatasetMeta
    image: ImageSpec

    def input_fn(self, hp: Hparams, split: str, mode: str, input_name: str):
        if isinstance(self.builder, sources.Source):
            return self.builder.input_fn(split, mode, hp.training.batch_size, input_name, self.image)
        fn = tfds_source.make_input_fn(
            self.builder,
            split,
            mode,
            hp.training.batch_size,
            input_name,
            self.image,
            seed=hp.training.seed,
            shuffle_buffer=hp.data.shuffle_buffer,
        )
        if not is_tabular(hp.model.name):
            return fn
        return _flattened(fn, input_name, self.image.height * self.image.width * self.image.channels)


def _flattened(input_fn, input_name: str, width: int):
    """An image input_fn as a tabular one: the image's pixels as one named numeric feature."""

    def fn(input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        def flatten(features, labels):
            # A static width: the DNN's first Dense layer and the feature column need it.
            return {TABULAR_FEATURE: tf.reshape(features[input_name], [-1, width])}, labels

        return input_fn(input_context).map(flatten)

    return fn


def run(hp: Hparams, stream: TextIO = sys.stdout) -> RunSummary:
    """Train, evaluate and export one model as ``hp`` says; returns the summary."""
    out, t = hp.output, hp.training
    # Logical CPU devices must exist before TensorFlow initialises its devices.
    distribution.configure_logical_cpus(hp.distribution.logical_cpu_devices)
    cluster = cluster_lib.read_cluster()
    cluster_lib.require_cluster(hp.distribution.strategy, cluster)
    if out.overwrite_model_dir and cluster is not None:
        raise UsageError("overwrite_model_dir", "not allowed in a cluster: a task would delete what others wrote")
    if out.overwrite_model_dir:
        remove_dir(out.model_dir)
    ensure_writable_dir(out.model_dir, "model_dir")
    checkpoints.resume_point(out.model_dir)  # sets aside a truncated newest checkpoint

    if hp.data.source == "tfds":
        builder = tfds_source.load_builder(hp.data.dataset, hp.data.data_dir, hp.data.download)
        meta = tfds_source.dataset_meta(builder)
    else:
        # Image folders, TFRecord, CSV (input_fns/sources.py): their splits are the roles "train" and "eval".
        builder = sources.make_source(hp.data, seed=t.seed)
        meta = builder.meta
        if meta.kind != sources.IMAGE:
            raise UsageError("source", f"'{hp.data.source}' data is tabular; pipeline.train reads image sources")
        hp = hp.replace(data=dataclasses.replace(hp.data, train_split="train", eval_split="eval"))
    if hp.gate.validate:
        from pipeline import data_gate  # TFDV and Beam load only when the gate runs (about 1 s)

        data_gate.check(hp, builder if hp.data.source == "tfds" else None, stream)
    data = _Data(builder, meta, image_spec_for(hp, meta))
    engine = get_engine(t.engine)
    if hp.distribution.strategy == "tpu" and engine.name == "estimator":
        return _run_tpu(hp, builder, meta, data.image, stream)
    strategy = _strategy(hp, engine.name, cluster)
    spec = model_spec_for(hp, meta.num_classes, data.image)
    replicas = distribution.num_replicas(strategy)
    if hp.distribution.scale_learning_rate and replicas > 1:
        rate = distribution.scaled_learning_rate(spec.learning_rate, replicas, True)
        spec = dataclasses.replace(spec, learning_rate=rate)
    rule = fine_tune_rule(hp)
    if t.bottleneck_cache and hp.model.name not in TRANSFER_MODELS:
        raise UsageError("bottleneck_cache", f"'{hp.model.name}' has no frozen base to cache features of")
    set_mixed_precision(t.mixed_precision, on_tpu=hp.distribution.strategy == "tpu")
    distribution.set_seeds(t.seed, hp.distribution.deterministic_ops)
    early = EarlyStopping(t.early_stopping_metric, t.early_stopping_steps) if t.early_stopping_steps else None
    serving = Serving(
        class_names=meta.class_names,
        input_name=spec.input_name,
        image=None if spec.image is None else data.image,
        features=spec.features,
    )
    job = Job(
        model_name=hp.model.name,
        spec=spec,
        build=None if hp.model.name in CANNED_MODELS else (lambda: build_model(hp.model.name, spec)),
        train_input_fn=data.input_fn(hp, hp.data.train_split, tfds_source.TRAIN, spec.input_name),
        eval_input_fn=data.input_fn(hp, hp.data.eval_split, tfds_source.EVAL, spec.input_name),
        model_dir=out.model_dir,
        max_steps=t.train_steps,
        batch_size=t.batch_size,
        checkpoints=out.checkpoints,
        strategy=strategy,
        eval_steps=t.eval_steps,
        eval_throttle_secs=t.eval_throttle_secs,
        progress_every_steps=t.progress_every_steps,
        seed=t.seed,
        warm_start_from=t.warm_start_from,
        early_stopping=early,
        serving=serving,
        stream=stream,
        cluster=cluster,
    )

    full_weights = None
    if t.bottleneck_cache:
        result, eval_input_fn, full_weights = _run_on_bottleneck(hp, engine, job, data, stream)
    else:
        result, eval_input_fn = engine.run(job), job.eval_input_fn
    seconds = result.train_seconds
    if not result.metrics:  # a worker or evaluator task of a cluster
        return RunSummary(
            0.0,
            0.0,
            0,
            result.examples_per_sec,
            seconds,
            "",
            out.model_dir,
            engine.name,
            task=f"{cluster.task_type}:{cluster.task_index}",
        )
    if rule is not None:
        print(
            f"stage 2: fine-tuning for {rule.steps} steps at learning rate x{rule.lr_factor}", file=stream, flush=True
        )
        result = engine.run(_stage2_job(hp, job, rule, full_weights))
        seconds += result.train_seconds
        eval_input_fn = job.eval_input_fn

    report_dir = None
    if t.report:
        evaluation = report.build_report(
            result.predict(eval_input_fn), report.collect_labels(eval_input_fn), meta.class_names, hp.data.eval_split
        )
        report_dir = report.write_report(evaluation, os.path.join(out.model_dir, REPORT_DIR))
        print(evaluation.format(), file=stream, flush=True)

    return RunSummary(
        accuracy=result.metrics["accuracy"],
        loss=result.metrics["loss"],
        global_step=int(result.metrics["global_step"]),
        examples_per_sec=result.examples_per_sec,
        train_seconds=seconds,
        export_path=result.export_path or "",
        model_dir=out.model_dir,
        engine=engine.name,
        report_dir=report_dir,
        stages=2 if rule else 1,
    )


def _strategy(hp: Hparams, engine: str, cluster: cluster_lib.Cluster | None) -> tf.distribute.Strategy | None:
    """The Estimator's RunConfig strategy, or the one Model.fit runs under (None: no strategy)."""
    d = hp.distribution
    if engine == "estimator":
        return distribution.make_strategy(d.strategy, d.num_gpus, d.all_reduce_alg, cluster)
    if hp.distribution.strategy == "default":
        return None
    return distribution.make_keras_strategy(hp.distribution)


def _stage2_job(hp: Hparams, stage1: Job, rule: FineTune, initial_weights: dict | None) -> Job:
    """Stage 2 in <model_dir>/fine_tune: the same model with the top of its base unfrozen, lr x0.1.

    Its weights start from stage 1's checkpoint (WarmStartSettings under the
    Estimator). A bottleneck stage 1 checkpointed the head only: then the full
    model's weights (``initial_weights``) are set before it is converted.
    """
    spec = stage2_spec(dataclasses.replace(stage1.spec, optimizer=_steps(stage1.spec.optimizer, rule.steps)), rule)

    def build() -> tf.keras.Model:
        model = build_model(hp.model.name, spec)
        if initial_weights is not None:
            bottleneck.move_head_weights(initial_weights, model)
        return unfreeze(model, rule, spec)

    return dataclasses.replace(
        stage1,
        spec=spec,
        build=build,
        model_dir=os.path.join(stage1.model_dir, FINE_TUNE_DIR),
        max_steps=rule.steps,
        warm_start_from=None if initial_weights is not None else stage1.model_dir,
    )


def _steps(optimizer: OptimizerSpec, steps: int) -> OptimizerSpec:
    warmup = min(optimizer.warmup_steps, steps - 1) if optimizer.schedule == "cosine" else optimizer.warmup_steps
    return dataclasses.replace(optimizer, total_steps=steps, warmup_steps=warmup)


def _run_on_bottleneck(hp: Hparams, engine: Engine, job: Job, data: _Data, stream: TextIO):
    """Stage 1 on cached features: extract once per split, train the head, export the full model.

    Returns the head's result (its export_path set to the full model's
    export), the cached eval input_fn, and the full model's weights by name.
    """
    model = build_model(hp.model.name, job.spec)
    # model_to_estimator invalidates Keras models built before it in the process,
    # so the full model is rebuilt for export; these are the base weights the features came from.
    base_weights = _weights_by_name(model)
    extractor = bottleneck.feature_extractor(model)
    cache_dir = hp.training.bottleneck_dir or os.path.join(job.model_dir, "bottleneck")
    arrays = {}
    for split in (hp.data.train_split, hp.data.eval_split):
        key = bottleneck.cache_key(
            model=hp.model.name,
            weights=hp.model.weights,
            hub=hp.model.hub_handle,
            image=dataclasses.asdict(data.image),
            dataset=data.meta.name,
            data_dir=hp.data.data_dir,
            split=split,
        )
        path = os.path.join(cache_dir, f"{key}.npz")
        finite = data.input_fn(hp, split, tfds_source.EVAL, job.spec.input_name)
        features, labels, seconds, hit = bottleneck.cached_features(extractor, finite, job.spec.input_name, path)
        verb = "read" if hit else "computed"
        print(
            f"bottleneck: {verb} {len(labels)} '{split}' feature vectors in {seconds:.1f}s ({path})",
            file=stream,
            flush=True,
        )
        arrays[split] = (features, labels)
    train_x, train_y = arrays[hp.data.train_split]
    eval_x, eval_y = arrays[hp.data.eval_split]
    width = int(train_x.shape[-1])
    head_job = dataclasses.replace(
        job,
        build=lambda: bottleneck.head_model(width, job.spec),
        train_input_fn=bottleneck.arrays_input_fn(train_x, train_y, job.batch_size, True, job.seed),
        eval_input_fn=bottleneck.arrays_input_fn(eval_x, eval_y, job.batch_size, False),
        serving=None,
    )
    result = engine.run(head_job)
    model = build_model(hp.model.name, job.spec)
    bottleneck.move_head_weights({**base_weights, **result.weights()}, model)
    result.export_path = export_keras_model(model, os.path.join(job.model_dir, "export", EXPORTER_NAME), job.serving)
    return result, head_job.eval_input_fn, _weights_by_name(model)


def _weights_by_name(model: tf.keras.Model) -> dict:
    return {weight.name.split(":")[0]: weight.numpy() for weight in model.weights}


def _run_tpu(hp: Hparams, builder, meta, image: ImageSpec, stream: TextIO) -> RunSummary:
    """--strategy=tpu under the Estimator engine: a TPUEstimator (model_to_estimator cannot take a TPU).

    With --nouse_tpu the same model_fn runs on the CPU, which is how it is tested here.
    """
    if hp.data.source != "tfds":
        raise UsageError("strategy", "tpu reads TFDS datasets (TFRecords a TPU host can stream); use --source=tfds")
    t, out, d = hp.training, hp.output, hp.distribution
    settings = tpu.settings_from(d)
    spec = model_spec_for(hp, meta.num_classes, image)
    learning_rate = distribution.scaled_learning_rate(spec.learning_rate, d.num_shards or 1, d.scale_learning_rate)
    run_config = tpu.make_run_config(out.model_dir, out.checkpoints, settings, t.seed)
    estimator = tpu.make_estimator(
        lambda: build_model(hp.model.name, spec),
        spec.input_name,
        meta.class_names,
        learning_rate,
        run_config,
        settings.use_tpu,
        t.batch_size,
        t.batch_size,
    )
    progress = ProgressHook(t.train_steps, t.batch_size, t.progress_every_steps, stream)
    labels = serving.write_labels(out.model_dir, meta.class_names)
    started = time.perf_counter()
    result = tpu.train_and_evaluate(
        estimator,
        tpu.make_input_fn(
            builder,
            hp.data.train_split,
            tfds_source.TRAIN,
            spec.input_name,
            image,
            settings.use_tpu,
            t.seed,
            hp.data.shuffle_buffer,
        ),
        tpu.make_input_fn(builder, hp.data.eval_split, tfds_source.EVAL, spec.input_name, image, settings.use_tpu),
        t.train_steps,
        tpu.eval_steps_for(meta.split_sizes[hp.data.eval_split.split("[")[0]], t.batch_size, t.eval_steps),
        os.path.join(out.model_dir, "export", EXPORTER_NAME),
        tpu.receiver_fn_for(spec.input_name, image),
        assets_extra={serving.LABELS_FILE: labels},
        hooks=[progress],
    )
    return RunSummary(
        accuracy=result.metrics["accuracy"],
        loss=result.metrics["loss"],
        global_step=int(result.metrics["global_step"]),
        examples_per_sec=progress.examples_per_sec,
        train_seconds=time.perf_counter() - started,
        export_path=result.export_path,
        model_dir=out.model_dir,
        engine="tpu_estimator" if settings.use_tpu else "tpu_estimator (use_tpu=False, on CPU)",
    )
