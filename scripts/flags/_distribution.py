"""Distribution flags: the strategy (the cluster itself comes from TF_CONFIG), devices and TPU settings."""

from __future__ import annotations

import dataclasses

from absl import flags

from common.params import ALL_REDUCE_ALGS, STRATEGIES, DistributionParams, TrainingParams
from scripts.flags.core import FLAGS, record_from_flags

_D = DistributionParams()


def define_distribution_flags() -> None:
    d = _D
    flags.DEFINE_enum(
        "strategy", d.strategy, list(STRATEGIES), "Distribution strategy; the cluster comes from TF_CONFIG."
    )
    flags.DEFINE_integer("num_gpus", d.num_gpus, "GPUs to mirror over (0: CPU).", lower_bound=0)
    flags.DEFINE_enum(
        "all_reduce_alg",
        d.all_reduce_alg,
        list(ALL_REDUCE_ALGS),
        "All-reduce: mirrored auto|one_device|nccl|hierarchical_copy, multi_worker_mirrored auto|ring|nccl.",
    )
    flags.DEFINE_integer(
        "logical_cpu_devices", d.logical_cpu_devices, "Split the CPU into N devices to mirror over.", lower_bound=0
    )
    flags.DEFINE_string("tpu", d.tpu, "TPU name, grpc://host:port, or 'local' on a TPU VM (--strategy=tpu).")
    flags.DEFINE_string("tpu_zone", d.tpu_zone, "GCE zone of the TPU (with a TPU name).")
    flags.DEFINE_string("gcp_project", d.gcp_project, "GCP project of the TPU (with a TPU name).")
    flags.DEFINE_boolean(
        "use_tpu",
        d.use_tpu,
        "--nouse_tpu: --strategy=tpu's CPU stand-in (keras: no TPUStrategy; tpu_estimator: model_fn on CPU).",
    )
    flags.DEFINE_integer(
        "iterations_per_loop",
        d.iterations_per_loop,
        "TPU steps per host round trip (keras: steps_per_execution).",
        lower_bound=1,
    )
    flags.DEFINE_integer("num_shards", d.num_shards, "TPU cores to replicate over; default: all.", lower_bound=1)
    flags.DEFINE_boolean(
        "scale_learning_rate", d.scale_learning_rate, "Multiply --learning_rate by the replicas in sync."
    )
    flags.DEFINE_boolean("deterministic_ops", d.deterministic_ops, "Deterministic TF ops (reproducible with --seed).")


def distribution_params() -> DistributionParams:
    return record_from_flags(DistributionParams)


# Cloud TPU's recommended path for TF 2: Keras Model.fit under TPUStrategy (TPUEstimator ends with tf.estimator).
TPU_DEFAULT_ENGINE = "keras"


def engine_for_strategy(training: TrainingParams, distribution: DistributionParams) -> TrainingParams:
    """--strategy=tpu without --engine trains with TPU_DEFAULT_ENGINE; an --engine given on the command line wins."""
    if distribution.strategy == "tpu" and not FLAGS["engine"].present:
        return dataclasses.replace(training, engine=TPU_DEFAULT_ENGINE)
    return training
