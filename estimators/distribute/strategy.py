"""The one factory from distribution flags to a tf.distribute.Strategy, for both engines.

Estimator engine (``make_strategy``): the strategy goes into
``RunConfig(train_distribute=..., eval_distribute=...)``.

- default, one_device, mirrored: one machine.
- multi_worker_mirrored: synchronous all-reduce over the workers of TF_CONFIG;
  ``tf.estimator.train_and_evaluate`` runs it through the distribute coordinator.
- parameter_server: no strategy object; RunConfig reads chief/worker/ps/evaluator
  from TF_CONFIG and the Estimator does classic between-graph, asynchronous
  training with variables placed on the ps tasks.
- tpu: model_to_estimator does not accept TPUStrategy, so the Estimator engine
  trains on TPU through TPUEstimator (``estimators.engines.tpu_estimator``) instead.

Keras engine (``make_keras_strategy``): the same names through tf.distribute
for ``Model.fit`` (MultiWorkerMirroredStrategy, and ParameterServerStrategy,
whose ClusterCoordinator Model.fit makes on the chief while the ps and worker
tasks ``cluster_serve.serve_cluster_task``), and tpu: ``tf.distribute.TPUStrategy`` over a
``TPUClusterResolver``, the TF 2 path Cloud TPU documents (``make_tpu_strategy``).

TPU or not is decided here, first thing in a run: ``--strategy=tpu`` without a
reachable TPU is a usage error before anything is written; ``--nouse_tpu`` asks
for the engine's CPU stand-in instead (no strategy object: the TPUEstimator's
model_fn on the CPU, or Model.fit under the default strategy with the same
steps_per_execution).

The flow calls ``get_strategy`` only; the per-engine factories stay public for benchmarks/.

Batch sizes: ``--batch_size`` is always the *global* batch, all replicas of
one synchronous step together; each replica gets ``batch_size / replicas``
(``per_replica_batch``). Under parameter_server training is asynchronous:
every worker steps on its own, so a step's batch is the per-worker batch and
``batch_size`` is divided over the local replicas of one worker only.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import tensorflow as tf

from common.errors import UsageError
from common.params import STRATEGIES
from estimators.distribute import cluster as cluster_lib
from estimators.distribute.devices import local_devices

# auto: NCCL on GPUs, ReductionToOneDevice on CPUs (mirrored) / TF's choice (multi-worker).
_MIRRORED_ALGS = ("auto", "one_device", "nccl", "hierarchical_copy")
_MULTI_WORKER_ALGS = ("auto", "ring", "nccl")


class DistributionOptions(Protocol):
    """What the factories read; common.params.DistributionParams is one."""

    strategy: str
    num_gpus: int
    all_reduce_alg: str
    tpu: str | None
    tpu_zone: str | None
    gcp_project: str | None
    use_tpu: bool


@dataclasses.dataclass(frozen=True)
class Options:
    """A plain DistributionOptions, for callers without an Hparams."""

    strategy: str = "default"
    num_gpus: int = 0
    all_reduce_alg: str = "auto"
    tpu: str | None = None
    tpu_zone: str | None = None
    gcp_project: str | None = None
    use_tpu: bool = True


def make_cross_device_ops(all_reduce_alg: str, num_gpus: int) -> tf.distribute.CrossDeviceOps:
    """Explicit cross-device ops for MirroredStrategy; never TF's own guess.

    TF's default picks NCCL whenever it can, and on CPU logical devices a
    model_to_estimator Estimator with Keras metrics then hangs in its first
    step; ReductionToOneDevice runs everywhere, so it is the CPU choice.
    """
    if all_reduce_alg not in _MIRRORED_ALGS:
        raise UsageError(
            "all_reduce_alg", f"'{all_reduce_alg}' is not for mirrored; allowed: {', '.join(_MIRRORED_ALGS)}"
        )
    if all_reduce_alg in ("nccl", "hierarchical_copy") and not num_gpus:
        raise UsageError("all_reduce_alg", f"'{all_reduce_alg}' all-reduces between GPUs; set --num_gpus")
    if all_reduce_alg == "nccl" or (all_reduce_alg == "auto" and num_gpus > 1):
        return tf.distribute.NcclAllReduce()
    if all_reduce_alg == "hierarchical_copy":
        return tf.distribute.HierarchicalCopyAllReduce()
    reduce_to = "/gpu:0" if num_gpus else "/cpu:0"
    return tf.distribute.ReductionToOneDevice(reduce_to_device=reduce_to)


def communication_options(all_reduce_alg: str) -> tf.distribute.experimental.CommunicationOptions:
    """All-reduce implementation between workers for MultiWorkerMirroredStrategy."""
    if all_reduce_alg not in _MULTI_WORKER_ALGS:
        raise UsageError(
            "all_reduce_alg",
            f"'{all_reduce_alg}' is not for multi_worker_mirrored; allowed: {', '.join(_MULTI_WORKER_ALGS)}",
        )
    implementation = {
        "auto": tf.distribute.experimental.CommunicationImplementation.AUTO,
        "ring": tf.distribute.experimental.CommunicationImplementation.RING,
        "nccl": tf.distribute.experimental.CommunicationImplementation.NCCL,
    }[all_reduce_alg]
    return tf.distribute.experimental.CommunicationOptions(implementation=implementation)


# --- Estimator engine ----------------------------------------------------------------------------


def make_strategy(
    name: str,
    num_gpus: int = 0,
    all_reduce_alg: str = "auto",
    cluster: cluster_lib.Cluster | None = None,
) -> tf.distribute.Strategy | None:
    """The strategy for an Estimator's RunConfig; None means the Estimator's own placement.

    None is also the answer for parameter_server (RunConfig's between-graph
    replication from TF_CONFIG does the work) and default.
    ``cluster`` is the TF_CONFIG cluster.py read (None: one process). Kept
    public beside ``get_strategy`` for benchmarks/, which pick a strategy per engine by hand.
    """
    if name not in STRATEGIES:
        raise UsageError("strategy", f"unknown strategy '{name}'; allowed: {', '.join(STRATEGIES)}")
    cluster_lib.require_cluster(name, cluster)
    if name == "default":
        return None
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(local_devices(num_gpus)[0] if num_gpus else "/cpu:0")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(
            devices=local_devices(num_gpus), cross_device_ops=make_cross_device_ops(all_reduce_alg, num_gpus)
        )
    if name == "multi_worker_mirrored":
        # Estimator builds graphs: it needs the v1 strategy. It reads TF_CONFIG
        # and joins the collective group under the distribute coordinator.
        implementation = communication_options(all_reduce_alg).implementation
        return tf.compat.v1.distribute.experimental.MultiWorkerMirroredStrategy(communication=implementation)
    if name == "parameter_server":
        return None
    raise UsageError(
        "strategy",
        "model_to_estimator cannot take a TPUStrategy; the Estimator engine trains on TPU through "
        "estimators.engines.tpu_estimator (TPUEstimator)",
    )


def get_strategy(
    engine: str, options: DistributionOptions, cluster: cluster_lib.Cluster | None
) -> tf.distribute.Strategy | None:
    """The one factory: the strategy ``engine`` trains under for ``options`` (None: no strategy object).

    The Estimator takes it in its RunConfig (v1 multi-worker, and None for
    parameter_server, whose between-graph replication comes from TF_CONFIG);
    Model.fit runs under its scope (a TPUStrategy for tpu); the TPUEstimator
    places itself, after the TPU was found here. A strategy the engine refuses
    (tpu under the estimator engine) gets None here so that the engine's
    ``check`` says why; so do the ps and worker tasks of Keras
    parameter_server, which only serve (``cluster_serve.serve_cluster_task``).
    """
    if options.strategy not in STRATEGIES:
        raise UsageError("strategy", f"unknown strategy '{options.strategy}'; allowed: {', '.join(STRATEGIES)}")
    cluster_lib.require_cluster(options.strategy, cluster)
    if options.num_gpus and options.strategy not in ("one_device", "mirrored"):
        raise UsageError(
            "num_gpus", f"places one machine's GPUs under one_device or mirrored, not '{options.strategy}'"
        )
    if options.strategy == "tpu":
        return _tpu_strategy_for(engine, options)
    if engine == "tpu_estimator" or options.strategy == "default":
        return None
    if engine == "estimator":
        return make_strategy(options.strategy, options.num_gpus, options.all_reduce_alg, cluster)
    if is_keras_server_task(options.strategy, cluster):
        return None
    return make_keras_strategy(options, cluster)


# --- Keras engine --------------------------------------------------------------------------------


def make_keras_strategy(
    options: DistributionOptions, cluster: cluster_lib.Cluster | None = None
) -> tf.distribute.Strategy:
    """The strategy to build and ``Model.fit`` a Keras model under (``with strategy.scope()``).

    For parameter_server only the chief calls this (``Model.fit`` makes the
    ClusterCoordinator itself, given a ``tf.keras.utils.experimental.DatasetCreator``);
    ps and worker tasks call ``cluster_serve.serve_cluster_task``. The cluster comes from
    ``cluster`` (TF_CONFIG as cluster.py read it), not from TF_CONFIG again.
    """
    name = options.strategy
    cluster_lib.require_cluster(name, cluster)
    if name == "default":
        return tf.distribute.get_strategy()
    if name in ("one_device", "mirrored"):
        return make_strategy(name, options.num_gpus, options.all_reduce_alg, cluster)
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=_resolver(cluster), communication_options=communication_options(options.all_reduce_alg)
        )
    if name == "parameter_server":
        # Variables above 256 KiB are split over the ps tasks (at most one shard each).
        partitioner = tf.distribute.experimental.partitioners.MinSizePartitioner(
            min_shard_bytes=256 << 10, max_shards=max(1, cluster.num_ps)
        )
        return tf.distribute.experimental.ParameterServerStrategy(_resolver(cluster), variable_partitioner=partitioner)
    if name == "tpu":
        return make_tpu_strategy(options)
    raise UsageError("strategy", f"'{name}' has no Keras strategy here")


def _resolver(cluster: cluster_lib.Cluster) -> tf.distribute.cluster_resolver.ClusterResolver:
    """The validated TF_CONFIG as a cluster resolver, so tf.distribute does not read it again."""
    return tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec({job: list(addresses) for job, addresses in cluster.jobs.items()}),
        task_type=cluster.task_type,
        task_id=cluster.task_index,
        rpc_layer="grpc",
    )


def _tpu_strategy_for(engine: str, options: DistributionOptions) -> tf.distribute.Strategy | None:
    """--strategy=tpu: a TPUStrategy for Model.fit; None for the TPUEstimator (which places itself,
    once the TPU was found), for the engines that refuse tpu, and for --nouse_tpu's CPU stand-in."""
    if not options.use_tpu or engine not in ("keras", "tpu_estimator"):
        return None
    if engine == "tpu_estimator":
        find_tpu(options)
        return None
    return make_tpu_strategy(options)


def find_tpu(options: DistributionOptions) -> tf.distribute.cluster_resolver.TPUClusterResolver:
    """The TPU of ``options`` as a resolver; a usage error, before anything is written, when there is none.

    ``--tpu=local`` (a TPU VM) counts the TPU devices TensorFlow registered on this host, as
    ``TPUClusterResolver.num_accelerators`` does; a grpc:// address must accept a connection
    (TensorFlow would wait for it for minutes); a TPU name is resolved through the Cloud TPU API.
    """
    if (
        options.tpu
        and options.tpu.startswith("grpc://")
        and not cluster_lib.accepts_connections(options.tpu[len("grpc://") :])
    ):
        raise UsageError(
            "tpu", f"nothing accepts connections at '{options.tpu}': is the TPU up, and its address right?"
        )
    resolver = tpu_cluster_resolver(options.tpu, options.tpu_zone, options.gcp_project)
    if options.tpu == "local" and not resolver.num_accelerators().get("TPU", 0):
        raise UsageError(
            "tpu",
            "no TPU on this machine: --tpu=local needs a Cloud TPU VM; "
            "pass --nouse_tpu for the engine's CPU stand-in (docs/distribution.md)",
        )
    return resolver


def make_tpu_strategy(options: DistributionOptions) -> tf.distribute.TPUStrategy:
    """TPUStrategy as Cloud TPU documents it for TF 2: resolve, connect, initialise the TPU system."""
    resolver = find_tpu(options)
    try:
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (tf.errors.OpError, RuntimeError, ValueError) as err:
        raise UsageError("tpu", f"cannot initialise TPU '{options.tpu}': {_first_line(err)}") from None
    return tf.distribute.TPUStrategy(resolver)


def tpu_cluster_resolver(
    tpu: str | None, zone: str | None = None, project: str | None = None
) -> tf.distribute.cluster_resolver.TPUClusterResolver:
    if not tpu:
        raise UsageError("tpu", "--strategy=tpu needs --tpu: a TPU name, grpc://host:port, or 'local' on a TPU VM")
    try:
        return tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu, zone=zone, project=project)
    except (ValueError, RuntimeError) as err:
        raise UsageError("tpu", f"cannot resolve TPU '{tpu}': {_first_line(err)}") from None
    except Exception as err:  # noqa: BLE001  (urllib, google.auth and HTTP errors: the Cloud TPU API was not reached)
        raise UsageError(
            "tpu",
            f"cannot resolve TPU '{tpu}' through the Cloud TPU API ({type(err).__name__}: {_first_line(err)}); "
            "a TPU name needs network and credentials: on a TPU VM pass --tpu=local, or --tpu=grpc://host:port",
        ) from None


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def is_keras_server_task(name: str, cluster: cluster_lib.Cluster | None) -> bool:
    """True for the ps and worker tasks of Keras parameter_server, which serve instead of training."""
    return name == "parameter_server" and cluster is not None and cluster.task_type in ("ps", "worker")


# --- batch, learning rate ----------------------------------------------------------------------


def num_replicas(strategy: tf.distribute.Strategy | None) -> int:
    """Replicas in one synchronous step (1 without a strategy, and per worker for parameter_server)."""
    return strategy.num_replicas_in_sync if strategy is not None else 1


def per_replica_batch(global_batch: int, replicas: int) -> int:
    """``global_batch / replicas``; a global batch that does not divide is a usage error."""
    if replicas < 1:
        raise ValueError(f"replicas must be >= 1, not {replicas}")
    if global_batch % replicas:
        raise UsageError(
            "batch_size",
            f"global batch {global_batch} does not divide over {replicas} replicas; "
            f"use a multiple of {replicas} (per-replica batch x replicas)",
        )
    return global_batch // replicas


def scaled_learning_rate(learning_rate: float, replicas: int, scale: bool) -> float:
    """Linear scaling: ``replicas`` times the rate for a ``replicas`` times larger global batch.

    The usual rule (Goyal et al., 2017) when the per-replica batch is held
    fixed; with a warm-up it holds to a few thousand examples per step.
    """
    return learning_rate * replicas if scale else learning_rate
