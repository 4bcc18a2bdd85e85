"""Flags defined once, in groups, for every script; and the one place they become Hparams."""

from __future__ import annotations

from absl import flags

from common.params import (
    ALL_REDUCE_ALGS,
    EARLY_STOPPING_METRICS,
    ENGINES,
    OPTIMIZERS,
    SCHEDULES,
    SOURCES,
    STRATEGIES,
    AugmentParams,
    CheckpointPolicy,
    DataParams,
    DistributionParams,
    GateParams,
    Hparams,
    ModelParams,
    OutputParams,
    TrainingParams,
)
from common.params import (
    CNN_AUGMENTATIONS as AUGMENTATIONS,
)
from estimators.models.registry import MODELS
from pipeline.validation.config import RUNNING_MODES

FLAGS = flags.FLAGS
_D = Hparams()


def define_data_flags() -> None:
    flags.DEFINE_string(
        "dataset", _D.data.dataset, "TFDS dataset name[:version]: digits (shipped) or any TFDS catalog name."
    )
    flags.DEFINE_string("data_dir", _D.data.data_dir, "TFDS data directory (local path or gs://); default: TFDS's own.")
    flags.DEFINE_boolean("download", _D.data.download, "Allow fetching a dataset that is not prepared in --data_dir.")
    flags.DEFINE_string("train_split", _D.data.train_split, "Split to train on, with TFDS slicing (train[:80%]).")
    flags.DEFINE_string(
        "validation_split", None, "Split that chooses the model; default: the last --val_fraction of --train_split."
    )
    flags.DEFINE_string(
        "test_split", _D.data.test_split, "Split the report is on; '' for none (then it is on validation)."
    )
    flags.DEFINE_integer(
        "image_size", _D.data.image_size, "Resize images to this square size; default: the dataset's.", lower_bound=1
    )
    flags.DEFINE_integer("shuffle_buffer", _D.data.shuffle_buffer, "Shuffle buffer, in examples.", lower_bound=1)
    _define_source_flags()


def _define_source_flags() -> None:
    """Sources besides TFDS (input_fns/sources.py), the tf.data pipeline and training-only augmentation."""
    d, a = _D.data, _D.data.augment
    flags.DEFINE_enum("source", d.source, list(SOURCES), "Where the data comes from.")
    flags.DEFINE_string("test_dir", None, "image_folder: test tree with the same class subfolders.")
    flags.DEFINE_string("test_files", None, "tfrecord/csv: test files, comma-separated globs.")
    flags.DEFINE_string("array_file", None, "arrays: an .npz with x_train, y_train[, x_val, y_val, x_test, y_test].")
    flags.DEFINE_string("image_dir", d.image_dir, "image_folder: root with one subfolder of images per class.")
    flags.DEFINE_string("val_dir", d.val_dir, "image_folder: validation tree with the same class subfolders.")
    flags.DEFINE_float(
        "val_fraction", d.val_fraction, "Seeded validation split without --val_dir/--eval_files.", 0.0, 1.0
    )
    flags.DEFINE_boolean("check_images", d.check_images, "Decode-check image files first; skip and count bad ones.")
    flags.DEFINE_string("train_files", d.train_files, "tfrecord/csv: training files, comma-separated globs.")
    flags.DEFINE_string("validation_files", None, "tfrecord/csv: validation files, comma-separated globs.")
    flags.DEFINE_string("feature_spec", d.feature_spec, "tfrecord: the tf.Example features, name:type[shape],...")
    flags.DEFINE_string("image_key", d.image_key, "The image feature (TFDS, tfrecord).")
    flags.DEFINE_string("label_key", d.label_key, "The label feature (TFDS, tfrecord) or CSV column.")
    flags.DEFINE_string("class_names", d.class_names, "Class names: comma-separated or a file, one per line.")
    flags.DEFINE_string("csv_separator", d.csv_separator, "csv: field separator (';' for the wine-quality CSV).")
    flags.DEFINE_string("cache", d.cache, "Cache decoded examples: none, memory, or a file path prefix.")
    flags.DEFINE_boolean("deterministic", d.deterministic, "Keep element order under parallel maps (reproducible).")
    flags.DEFINE_boolean("drop_remainder", d.drop_remainder, "Drop partial batches in eval/predict too (TPU).")
    flags.DEFINE_boolean("synthetic_data", d.synthetic, "Random data of the source's shapes, no I/O (benchmarks).")
    flags.DEFINE_enum(
        "on_corrupt_record",
        d.on_corrupt_record,
        ["fail", "skip"],
        "Corrupt TFRecord shards (tfds, tfrecord): fail naming the file, or skip the unreadable records and count them.",
    )
    flags.DEFINE_boolean("augment_hflip", a.horizontal_flip, "Training: random horizontal flips.")
    flags.DEFINE_boolean("augment_vflip", a.vertical_flip, "Training: random vertical flips.")
    flags.DEFINE_boolean("augment_rot90", a.rot90, "Training: random multiples of 90 degrees (square images).")
    flags.DEFINE_float("augment_rotation", a.rotation_degrees, "Training: rotation up to +-this many degrees.")
    flags.DEFINE_float("augment_zoom", a.zoom, "Training: zoom-crop, crop side from 1/(1+zoom) to 1, resized.")
    flags.DEFINE_float("augment_hue", a.hue, "Training: hue delta up to +-this (0 to 0.5).")
    flags.DEFINE_float("augment_saturation", a.saturation, "Training: saturation factor in [1-x, 1+x].")
    flags.DEFINE_float("augment_brightness", a.brightness, "Training: brightness delta up to +-x of 255.")
    flags.DEFINE_float("augment_contrast", a.contrast, "Training: contrast factor in [1-x, 1+x].")


def augment_params_from_flags() -> AugmentParams:
    f = FLAGS
    return AugmentParams(
        horizontal_flip=f.augment_hflip,
        vertical_flip=f.augment_vflip,
        rot90=f.augment_rot90,
        rotation_degrees=f.augment_rotation,
        zoom=f.augment_zoom,
        hue=f.augment_hue,
        saturation=f.augment_saturation,
        brightness=f.augment_brightness,
        contrast=f.augment_contrast,
    )


def define_model_flags() -> None:
    m = _D.model
    flags.DEFINE_enum("model", m.name, list(MODELS), "Model builder or canned Estimator.")
    flags.DEFINE_float("learning_rate", m.learning_rate, "Optimizer learning rate.", lower_bound=0.0)
    flags.DEFINE_float("dropout", m.dropout, "Dropout rate.", lower_bound=0.0, upper_bound=0.99)
    flags.DEFINE_string(
        "weights", m.weights, "Transfer models' base: imagenet (downloads unless cached), none, or a local .h5 file."
    )
    flags.DEFINE_string("hub_handle", m.hub_handle, "The hub model's module: a TF-Hub URL or a local SavedModel dir.")
    flags.DEFINE_boolean(
        "trainable_base", m.trainable_base, "Train the base (hub.KerasLayer trainable) from the start."
    )
    flags.DEFINE_float("l2", m.l2, "L2 factor on the transfer head's Dense kernel.", lower_bound=0.0)
    flags.DEFINE_list("hidden_units", [str(u) for u in m.hidden_units], "Hidden layer sizes of the DNNs.")
    flags.DEFINE_enum("cnn_augment", m.augment, list(AUGMENTATIONS), "In-model augmentation layers of the CIFAR CNNs.")
    flags.DEFINE_integer(
        "fine_tune_steps", m.fine_tune_steps, "Stage-2 steps with the top of the base unfrozen; 0: none.", lower_bound=0
    )
    flags.DEFINE_string("fine_tune_from", m.fine_tune_from, "Stage 2 unfreezes the base from this layer on.")
    flags.DEFINE_float(
        "fine_tune_fraction", m.fine_tune_fraction, "Or: the top fraction of the base's layers.", lower_bound=0.0
    )
    flags.DEFINE_float(
        "fine_tune_lr_factor",
        m.fine_tune_lr_factor,
        "Stage 2's learning rate factor (the notes: 10x lower).",
        lower_bound=0.0,
    )


def define_training_flags() -> None:
    flags.DEFINE_integer(
        "batch_size", _D.training.batch_size, "Global batch size (all replicas together).", lower_bound=1
    )
    flags.DEFINE_integer(
        "train_steps", _D.training.train_steps, "Training steps (global step to stop at).", lower_bound=1
    )
    flags.DEFINE_integer(
        "eval_steps", _D.training.eval_steps, "Evaluation batches; default: the whole eval split.", lower_bound=1
    )
    flags.DEFINE_integer(
        "eval_throttle_secs", _D.training.eval_throttle_secs, "Seconds between evaluations.", lower_bound=0
    )
    flags.DEFINE_integer("seed", _D.training.seed, "Seed for weights, shuffling and TF ops.")
    flags.DEFINE_integer(
        "progress_every_steps", _D.training.progress_every_steps, "Steps between progress lines.", lower_bound=1
    )
    t = _D.training
    flags.DEFINE_enum("engine", t.engine, list(ENGINES), "estimator: model_to_estimator / canned; keras: Model.fit.")
    flags.DEFINE_enum("optimizer", t.optimizer, list(OPTIMIZERS), "Optimizer (Keras legacy, for both engines).")
    flags.DEFINE_float("momentum", t.momentum, "Momentum of sgd and rmsprop.", lower_bound=0.0)
    flags.DEFINE_enum("lr_schedule", t.lr_schedule, list(SCHEDULES), "Learning-rate schedule.")
    flags.DEFINE_integer("lr_decay_steps", t.lr_decay_steps, "step: steps between decays.", lower_bound=1)
    flags.DEFINE_float("lr_decay_rate", t.lr_decay_rate, "step: factor per decay.", lower_bound=0.0)
    flags.DEFINE_integer("warmup_steps", t.warmup_steps, "cosine: linear warm-up steps.", lower_bound=0)
    flags.DEFINE_float("label_smoothing", t.label_smoothing, "Label smoothing.", lower_bound=0.0, upper_bound=0.99)
    flags.DEFINE_boolean("mixed_precision", t.mixed_precision, "float16 compute on GPU, bfloat16 on TPU/CPU.")
    flags.DEFINE_integer(
        "early_stopping_steps", t.early_stopping_steps, "Stop after this many steps without improvement.", lower_bound=1
    )
    flags.DEFINE_enum(
        "early_stopping_metric", t.early_stopping_metric, list(EARLY_STOPPING_METRICS), "Eval metric to watch."
    )
    flags.DEFINE_boolean("bottleneck_cache", t.bottleneck_cache, "Frozen base: cache its features, train the head.")
    flags.DEFINE_string("bottleneck_dir", t.bottleneck_dir, "Feature cache directory; default: <model_dir>/bottleneck.")
    flags.DEFINE_boolean("report", t.report, "Write report/ (per-class precision, recall, confusion matrix PNG).")


def define_distribution_flags() -> None:
    d = _D.distribution
    flags.DEFINE_enum(
        "strategy", d.strategy, list(STRATEGIES), "Distribution strategy; the cluster comes from TF_CONFIG."
    )
    flags.DEFINE_integer("num_gpus", d.num_gpus, "GPUs to mirror over (0: CPU).", lower_bound=0)
    flags.DEFINE_enum(
        "all_reduce_alg",
        d.all_reduce_alg,
        list(ALL_REDUCE_ALGS),
        "Cross-device all-reduce: mirrored auto|one_device|nccl|hierarchical_copy, multi_worker_mirrored auto|ring|nccl.",
    )
    flags.DEFINE_integer(
        "logical_cpu_devices", d.logical_cpu_devices, "Split the CPU into N devices to mirror over.", lower_bound=0
    )
    flags.DEFINE_string("tpu", d.tpu, "TPU name, grpc://host:port, or 'local' on a TPU VM (--strategy=tpu).")
    flags.DEFINE_string("tpu_zone", d.tpu_zone, "GCE zone of the TPU (with a TPU name).")
    flags.DEFINE_string("gcp_project", d.gcp_project, "GCP project of the TPU (with a TPU name).")
    flags.DEFINE_boolean("use_tpu", d.use_tpu, "With --strategy=tpu: --nouse_tpu runs the TPU model_fn on CPU.")
    flags.DEFINE_integer("iterations_per_loop", d.iterations_per_loop, "TPU steps per host round trip.", lower_bound=1)
    flags.DEFINE_integer("num_shards", d.num_shards, "TPU cores to replicate over; default: all.", lower_bound=1)
    flags.DEFINE_boolean(
        "scale_learning_rate", d.scale_learning_rate, "Multiply --learning_rate by the replicas in sync."
    )
    flags.DEFINE_boolean(
        "deterministic_ops", d.deterministic_ops, "Deterministic TF ops (reproducible with --seed; slower)."
    )


def define_output_flags() -> None:
    policy = _D.output.checkpoints
    flags.DEFINE_string("model_dir", _D.output.model_dir, "Checkpoints, summaries and exports (local path or gs://).")
    flags.DEFINE_boolean("overwrite_model_dir", False, "Delete --model_dir first instead of resuming from it.")
    flags.DEFINE_integer(
        "save_checkpoints_steps", policy.save_checkpoints_steps, "Steps between checkpoints.", lower_bound=1
    )
    flags.DEFINE_integer("save_summary_steps", policy.save_summary_steps, "Steps between summaries.", lower_bound=1)
    flags.DEFINE_integer("keep_checkpoint_max", policy.keep_checkpoint_max, "Checkpoints to keep.", lower_bound=1)


def define_train_flags() -> None:
    """Every group a training script takes."""
    define_data_flags()
    define_model_flags()
    define_training_flags()
    define_distribution_flags()
    define_output_flags()


def define_validation_flags() -> None:
    """scripts/validate_data.py: inputs, schema, environments, drift/skew thresholds, Beam runner."""
    from pipeline.validation.config import ENVIRONMENTS, FORMATS, RUNNING_MODES, ValidationConfig

    d = ValidationConfig(data=(), artifacts_dir="/tmp/kestrel/validation")
    flags.DEFINE_multi_string("data", None, "Data to validate: TFRecord/CSV glob (local or gs://) or image folder.")
    flags.DEFINE_enum("data_format", d.data_format, FORMATS, "Input format; auto: from the file names.")
    flags.DEFINE_multi_string("serving_data", None, "Serving data to measure training/serving skew against.")
    flags.DEFINE_enum("environment", d.environment, ENVIRONMENTS, "Schema environment (no label in SERVING).")
    flags.DEFINE_string("label_feature", d.label, "Label feature: required in TRAINING, absent in SERVING.")
    flags.DEFINE_string("artifacts_dir", d.artifacts_dir, "Schema and per-span statistics, anomalies and reports.")
    flags.DEFINE_integer("span", None, "Span number; default: the next after the newest in --artifacts_dir.")
    flags.DEFINE_string("schema_path", None, "Curated schema .pbtxt; default: <artifacts_dir>/schema.pbtxt.")
    flags.DEFINE_boolean("update_schema", False, "Relax the curated schema to accept this span (kept as .bak).")
    if "allow_anomalies" not in FLAGS:  # scripts/retrain.py defines it too
        flags.DEFINE_boolean("allow_anomalies", False, "Let data with anomalies through; the result records it.")
    flags.DEFINE_string("previous_statistics", None, "Statistics to measure drift against; default: previous span.")
    flags.DEFINE_float(
        "max_bad_record_fraction", d.max_bad_record_fraction, "Bad records tolerated.", lower_bound=0.0, upper_bound=1.0
    )
    flags.DEFINE_string("csv_delimiter", d.csv_delimiter, "CSV field delimiter.")
    flags.DEFINE_boolean("semantic_domain_stats", d.semantic_domain_stats, "Image format/size, text, time stats.")
    t = d.thresholds
    flags.DEFINE_float("categorical_drift_threshold", t.categorical_drift, "L-infinity drift limit; 0: off.")
    flags.DEFINE_float("numeric_drift_threshold", t.numeric_drift, "Jensen-Shannon drift limit; 0: off.")
    flags.DEFINE_float("categorical_skew_threshold", t.categorical_skew, "L-infinity skew limit; 0: off.")
    flags.DEFINE_float("numeric_skew_threshold", t.numeric_skew, "Jensen-Shannon skew limit; 0: off.")
    flags.DEFINE_list("drift_thresholds", [], "Per-feature drift limits: feature=value,...")
    flags.DEFINE_list("skew_thresholds", [], "Per-feature skew limits: feature=value,...")
    flags.DEFINE_string("beam_args", "", "Beam pipeline options ('--runner=DataflowRunner ...'), or after --.")
    flags.DEFINE_enum("direct_running_mode", d.runner.direct_running_mode, RUNNING_MODES, "DirectRunner mode.")
    flags.DEFINE_integer("direct_num_workers", 0, "DirectRunner workers; 0: one per core.", lower_bound=0)
    flags.DEFINE_integer("progress_every_rows", d.progress_every_rows, "Rows between progress lines.", lower_bound=0)


def _feature_thresholds(flag: str) -> tuple[tuple[str, float], ...]:
    from common.errors import UsageError

    pairs = []
    for item in FLAGS[flag].value:
        name, sep, value = item.partition("=")
        try:
            pairs.append((name.strip(), float(value)))
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise UsageError(flag, f"'{item}' is not feature=value")
    return tuple(pairs)


def validation_config_from_flags(extra_beam_args: tuple[str, ...] = ()):
    """The ValidationConfig of scripts/validate_data.py; ``extra_beam_args`` come after ``--``."""
    from pipeline.validation.config import RunnerOptions, Thresholds, ValidationConfig
    from pipeline.validation.statistics import parse_beam_args

    f = FLAGS
    return ValidationConfig(
        data=tuple(f.data or ()),
        artifacts_dir=f.artifacts_dir,
        data_format=f.data_format,
        environment=f.environment,
        serving_data=tuple(f.serving_data or ()),
        label=f.label_feature or None,
        span=f.span,
        schema_path=f.schema_path,
        update_schema=f.update_schema,
        allow_anomalies=f.allow_anomalies,
        previous_statistics=f.previous_statistics,
        max_bad_record_fraction=f.max_bad_record_fraction,
        csv_delimiter=f.csv_delimiter,
        semantic_domain_stats=f.semantic_domain_stats,
        thresholds=Thresholds(
            categorical_drift=f.categorical_drift_threshold,
            numeric_drift=f.numeric_drift_threshold,
            categorical_skew=f.categorical_skew_threshold,
            numeric_skew=f.numeric_skew_threshold,
            drift_overrides=_feature_thresholds("drift_thresholds"),
            skew_overrides=_feature_thresholds("skew_thresholds"),
        ),
        runner=RunnerOptions(
            beam_args=parse_beam_args(f.beam_args) + tuple(extra_beam_args),
            direct_running_mode=f.direct_running_mode,
            direct_num_workers=f.direct_num_workers,
        ),
        progress_every_rows=f.progress_every_rows,
    )


def _hidden_units(values: list[str]) -> tuple[int, ...]:
    from common.errors import UsageError

    try:
        units = tuple(int(v) for v in values)
    except ValueError:
        raise UsageError("hidden_units", f"{','.join(values)} is not a list of layer sizes") from None
    if not units or min(units) < 1:
        raise UsageError("hidden_units", "give at least one positive layer size")
    return units


def define_gate_flags() -> None:
    """The data-validation gate the main job runs before training (scripts/train.py)."""
    flags.DEFINE_boolean("validate_data", True, "Run the TFDV gate on the training data first; refuse bad data.")
    if "allow_anomalies" not in FLAGS:  # the validation and retrain groups define it too
        flags.DEFINE_boolean("allow_anomalies", False, "Train despite the gate's findings; the verdict records it.")
    flags.DEFINE_enum(
        "gate_running_mode", GateParams().running_mode, list(RUNNING_MODES), "Beam DirectRunner mode for the gate."
    )


def gate_params_from_flags() -> GateParams:
    f = FLAGS
    return GateParams(validate=f.validate_data, allow_anomalies=f.allow_anomalies, running_mode=f.gate_running_mode)


def hparams_from_flags() -> Hparams:
    f = FLAGS
    return Hparams(
        data=DataParams(
            dataset=f.dataset,
            data_dir=f.data_dir,
            download=f.download,
            train_split=f.train_split,
            validation_split=f.validation_split,
            test_split=f.test_split,
            test_dir=f.test_dir,
            test_files=f.test_files,
            array_file=f.array_file,
            image_size=f.image_size,
            shuffle_buffer=f.shuffle_buffer,
            source=f.source,
            image_dir=f.image_dir,
            val_dir=f.val_dir,
            val_fraction=f.val_fraction,
            check_images=f.check_images,
            train_files=f.train_files,
            validation_files=f.validation_files,
            feature_spec=f.feature_spec,
            image_key=f.image_key,
            label_key=f.label_key,
            class_names=f.class_names,
            csv_separator=f.csv_separator,
            cache=f.cache,
            deterministic=f.deterministic,
            drop_remainder=f.drop_remainder,
            synthetic=f.synthetic_data,
            on_corrupt_record=f.on_corrupt_record,
            augment=augment_params_from_flags(),
        ),
        model=ModelParams(
            name=f.model,
            learning_rate=f.learning_rate,
            dropout=f.dropout,
            weights=f.weights,
            hub_handle=f.hub_handle,
            trainable_base=f.trainable_base,
            l2=f.l2,
            hidden_units=_hidden_units(f.hidden_units),
            augment=f.cnn_augment,
            fine_tune_steps=f.fine_tune_steps,
            fine_tune_from=f.fine_tune_from,
            fine_tune_fraction=f.fine_tune_fraction,
            fine_tune_lr_factor=f.fine_tune_lr_factor,
        ),
        training=TrainingParams(
            batch_size=f.batch_size,
            train_steps=f.train_steps,
            eval_steps=f.eval_steps,
            eval_throttle_secs=f.eval_throttle_secs,
            seed=f.seed,
            progress_every_steps=f.progress_every_steps,
            engine=f.engine,
            optimizer=f.optimizer,
            momentum=f.momentum,
            lr_schedule=f.lr_schedule,
            lr_decay_steps=f.lr_decay_steps,
            lr_decay_rate=f.lr_decay_rate,
            warmup_steps=f.warmup_steps,
            label_smoothing=f.label_smoothing,
            mixed_precision=f.mixed_precision,
            early_stopping_steps=f.early_stopping_steps,
            early_stopping_metric=f.early_stopping_metric,
            bottleneck_cache=f.bottleneck_cache,
            bottleneck_dir=f.bottleneck_dir,
            report=f.report,
        ),
        distribution=DistributionParams(
            strategy=f.strategy,
            num_gpus=f.num_gpus,
            all_reduce_alg=f.all_reduce_alg,
            logical_cpu_devices=f.logical_cpu_devices,
            tpu=f.tpu,
            tpu_zone=f.tpu_zone,
            gcp_project=f.gcp_project,
            use_tpu=f.use_tpu,
            iterations_per_loop=f.iterations_per_loop,
            num_shards=f.num_shards,
            scale_learning_rate=f.scale_learning_rate,
            deterministic_ops=f.deterministic_ops,
        ),
        output=OutputParams(
            model_dir=f.model_dir,
            overwrite_model_dir=f.overwrite_model_dir,
            checkpoints=CheckpointPolicy(
                save_checkpoints_steps=f.save_checkpoints_steps,
                save_summary_steps=f.save_summary_steps,
                keep_checkpoint_max=f.keep_checkpoint_max,
                log_step_count_steps=f.progress_every_steps,
            ),
        ),
    )


def define_retrain_flags() -> None:
    """scripts/retrain.py: spans, holdout, registry/serving paths, blessing, scheduling, registry commands."""
    from pipeline.retraining.config import RetrainConfig

    d = RetrainConfig(spans="", holdout="", work_dir="", serving_dir="")
    flags.DEFINE_string(
        "spans", None, "Where spans arrive: a folder of span folders (span-3, 2026-11-23) or a pattern with {SPAN}."
    )
    flags.DEFINE_string(
        "holdout", None, "The fixed holdout image folder every candidate and the served model are measured on."
    )
    flags.DEFINE_string(
        "work_dir", "/tmp/kestrel/retrain", "Run registry (registry.sqlite), lock, one model_dir per run."
    )
    flags.DEFINE_string(
        "serving_dir", "/tmp/kestrel/serving", "TF Serving base: versions go to <serving_dir>/<model_name>/<version>/."
    )
    flags.DEFINE_string("model_name", d.model_name, "Served model name (the folder under --serving_dir).")
    flags.DEFINE_integer("span_window", d.span_window, "Train on the newest K spans (rolling window).", lower_bound=1)
    flags.DEFINE_integer("keep_versions", d.keep_versions, "Serving versions to keep.", lower_bound=1)
    flags.DEFINE_float("bless_floor", d.blessing.floor, "Holdout accuracy a model must reach to be pushed at all.")
    flags.DEFINE_float(
        "bless_margin",
        d.blessing.margin,
        "How much worse than the served model's holdout accuracy a model may be.",
        lower_bound=0.0,
    )
    flags.DEFINE_boolean("force", False, "Retrain the newest span even if a run already decided on it.")
    flags.DEFINE_boolean(
        "allow_anomalies", False, "Record the validation gate's anomalies instead of stopping on them."
    )
    flags.DEFINE_boolean(
        "warm_start", True, "Start from the served model's checkpoint when model and schema are unchanged."
    )
    flags.DEFINE_enum(
        "validation_running_mode",
        d.validation_running_mode,
        ["multi_processing", "multi_threading", "in_memory"],
        "Beam DirectRunner mode of the validation gate (in_memory: fastest on small spans).",
    )
    flags.DEFINE_string("every", None, "Stay in the foreground and run every interval (24h, 30m, 1h30m).")
    flags.DEFINE_boolean("list", False, "List the runs in the registry and exit.")
    flags.DEFINE_integer("show", None, "Show every field of one run and exit.")
    flags.DEFINE_boolean(
        "rollback", False, "Serve an earlier version (default: the one before the served one) and exit."
    )
    flags.DEFINE_integer("to_version", None, "With --rollback: the version to serve.", lower_bound=1)


def retrain_config_from_flags():
    """The RetrainConfig of scripts/retrain.py; training hyperparameters come from the train groups."""
    from common.errors import UsageError
    from pipeline.retraining.blessing import BlessingPolicy
    from pipeline.retraining.config import RetrainConfig

    f = FLAGS
    for name in ("model_dir", "overwrite_model_dir", "dataset", "data_dir", "download"):
        if f[name].present:
            raise UsageError(
                name, "not used by retraining: data comes from --spans, model_dirs live under --work_dir/runs"
            )
    for name in ("spans", "holdout"):
        if not f[name].value:
            raise UsageError(name, "required to run a retraining (--list, --show and --rollback need only --work_dir)")
    return RetrainConfig(
        spans=f.spans,
        holdout=f.holdout,
        work_dir=f.work_dir,
        serving_dir=f.serving_dir,
        model_name=f.model_name,
        span_window=f.span_window,
        keep_versions=f.keep_versions,
        blessing=BlessingPolicy(floor=f.bless_floor, margin=f.bless_margin),
        force=f.force,
        allow_anomalies=f.allow_anomalies,
        warm_start=f.warm_start,
        validation_running_mode=f.validation_running_mode,
        hparams=hparams_from_flags(),
    )


def _define_cloud_flags() -> None:
    """Shared by the cloud launchers (scripts/launch_*.py)."""
    flags.DEFINE_string("project", None, "GCP project; default: gcloud's configured one.")
    flags.DEFINE_string("job_dir", None, "gs:// directory: the run's model_dir (checkpoints, exports).")
    flags.DEFINE_string("train_args", "", "More scripts.train flags as one string: '--dataset=x --train_steps=N'.")
    flags.DEFINE_boolean("dry_run", False, "Print the job specification and gcloud commands; run nothing.")
    flags.mark_flag_as_required("job_dir")


def define_tpu_vm_flags() -> None:
    from pipeline.launch.tpu_vm import TpuVmJob

    d = TpuVmJob(name="x", zone="z", job_dir="gs://x")
    _define_cloud_flags()
    flags.DEFINE_string("name", None, "TPU VM name (created, used, and deleted unless --keep_vm).")
    flags.DEFINE_string("zone", None, "Zone with TPU capacity, e.g. us-central1-a (v3) or us-central2-b (v4).")
    flags.DEFINE_string("accelerator_type", d.accelerator_type, "TPU type: v3-8, v4-8, v5litepod-8, v3-32, ...")
    flags.DEFINE_string("runtime_version", None, "TPU software version; default: tpu-vm-tf-2.15.0[-pod]-pjrt.")
    flags.DEFINE_string("source_dir", d.source_dir, "Local checkout to copy to the VM.")
    flags.DEFINE_boolean("spot", d.spot, "Spot (preemptible) capacity.")
    flags.DEFINE_boolean("keep_vm", not d.delete_after, "Do not delete the VM after training.")
    flags.mark_flags_as_required(["name", "zone"])


def tpu_vm_job_from_flags():
    from pipeline.launch import tpu_vm

    f = FLAGS
    return tpu_vm.make_job(
        name=f.name,
        zone=f.zone,
        project=f.project,
        job_dir=f.job_dir,
        accelerator_type=f.accelerator_type,
        runtime_version=f.runtime_version,
        source_dir=f.source_dir,
        train_args=f.train_args,
        spot=f.spot,
        delete_after=not f.keep_vm,
    )


def define_vertex_flags() -> None:
    from pipeline.launch.vertex import CLUSTER_STRATEGIES, SINGLE_MACHINE, VertexJob

    d = VertexJob(display_name="x", region="r", image_uri="r.io/p/i", job_dir="gs://x")
    _define_cloud_flags()
    flags.DEFINE_string("display_name", None, "Vertex AI job name.")
    flags.DEFINE_string("region", None, "Vertex AI region, e.g. us-central1.")
    flags.DEFINE_string("image_uri", None, "Training container with kestrel installed (its workdir the checkout).")
    flags.DEFINE_enum("strategy", d.strategy, [*SINGLE_MACHINE, *CLUSTER_STRATEGIES], "Distribution strategy.")
    flags.DEFINE_string("machine_type", d.machine_type, "Machine type of the chief, workers and evaluator.")
    flags.DEFINE_string("accelerator_type", d.accelerator_type, "e.g. NVIDIA_TESLA_T4, NVIDIA_TESLA_V100; none: CPU.")
    flags.DEFINE_integer("accelerator_count", d.accelerator_count, "Accelerators per machine.", lower_bound=0)
    flags.DEFINE_integer("workers", d.workers, "Worker replicas beside the chief (pool 1).", lower_bound=0)
    flags.DEFINE_integer("ps", d.ps, "Parameter servers (pool 2).", lower_bound=0)
    flags.DEFINE_string("ps_machine_type", d.ps_machine_type, "Machine type of the parameter servers.")
    flags.DEFINE_boolean("evaluator", d.evaluator, "Add an evaluator task (pool 3).")
    flags.DEFINE_string("config_out", None, "Where to write the job specification; default: a temporary file.")
    flags.mark_flags_as_required(["display_name", "region", "image_uri"])


def vertex_job_from_flags():
    from pipeline.launch import vertex

    f = FLAGS
    return vertex.make_job(
        display_name=f.display_name,
        region=f.region,
        project=f.project,
        image_uri=f.image_uri,
        job_dir=f.job_dir,
        strategy=f.strategy,
        machine_type=f.machine_type,
        accelerator_type=f.accelerator_type,
        accelerator_count=f.accelerator_count,
        workers=f.workers,
        ps=f.ps,
        ps_machine_type=f.ps_machine_type,
        evaluator=f.evaluator,
        train_args=f.train_args,
    )
