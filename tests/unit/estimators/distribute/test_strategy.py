"""The strategy factory, the cross-device ops, the global batch and the learning-rate scaling."""

from __future__ import annotations

import pytest
from support import free_ports, tf_config

from common.errors import UsageError
from estimators.distribute import cluster as cluster_lib
from estimators.distribute import strategy as distribution

pytestmark = pytest.mark.small

JOBS = {"chief": ["h0:1000"], "worker": ["h1:1000", "h2:1000"], "ps": ["h3:1000"]}


def test_factory_choices_and_errors(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv("TF_CONFIG", raising=False)

    def get(engine: str, strategy: str, cluster=None, **options):
        return distribution.get_strategy(engine, distribution.Options(strategy=strategy, **options), cluster)

    assert get("estimator", "default") is None and get("keras", "default") is None
    assert isinstance(get("estimator", "one_device"), tf.distribute.OneDeviceStrategy)
    # The pitfall: never TF's default cross-device ops on CPU; reduce to one device, explicitly.
    ops = distribution.make_cross_device_ops("auto", num_gpus=0)
    assert isinstance(ops, tf.distribute.ReductionToOneDevice)
    mirrored = get("keras", "mirrored")
    assert isinstance(mirrored.extended._cross_device_ops, tf.distribute.ReductionToOneDevice)  # noqa: SLF001
    assert isinstance(distribution.make_cross_device_ops("nccl", num_gpus=2), tf.distribute.NcclAllReduce)
    assert isinstance(
        distribution.make_cross_device_ops("hierarchical_copy", num_gpus=8), tf.distribute.HierarchicalCopyAllReduce
    )
    ring = tf.distribute.experimental.CommunicationImplementation.RING
    assert distribution.communication_options("ring").implementation == ring

    with pytest.raises(UsageError, match="--strategy: unknown strategy 'horovod'"):
        get("estimator", "horovod")
    with pytest.raises(UsageError, match="--all_reduce_alg: 'nccl' all-reduces between GPUs; set --num_gpus"):
        get("estimator", "mirrored", all_reduce_alg="nccl")
    with pytest.raises(UsageError, match="'hierarchical_copy' is not for multi_worker_mirrored"):
        distribution.communication_options("hierarchical_copy")
    with pytest.raises(UsageError, match="--num_gpus: 4 GPU"):
        get("keras", "mirrored", num_gpus=4)
    with pytest.raises(UsageError, match="parameter_server needs a cluster"):
        get("keras", "parameter_server")
    # tpu: the estimator engine's check refuses it; --nouse_tpu is each engine's CPU stand-in (no strategy object).
    assert get("estimator", "tpu") is None
    assert get("keras", "tpu", use_tpu=False) is None and get("tpu_estimator", "tpu", use_tpu=False) is None
    # Without a TPU: one usage line, before any op runs on a device.
    with pytest.raises(UsageError, match="--tpu: --strategy=tpu needs --tpu"):
        get("keras", "tpu")
    for engine in ("keras", "tpu_estimator"):
        with pytest.raises(UsageError, match="--tpu: no TPU on this machine: --tpu=local needs a Cloud TPU VM"):
            get(engine, "tpu", tpu="local")
    with pytest.raises(UsageError, match="--tpu: nothing accepts connections at 'grpc://127.0.0.1:"):
        get("keras", "tpu", tpu=f"grpc://127.0.0.1:{free_ports(1)[0]}")
    ps_task = cluster_lib.parse_tf_config(tf_config(JOBS, "ps"))
    assert get("estimator", "parameter_server", ps_task) is None  # between-graph, from TF_CONFIG
    assert get("keras", "parameter_server", ps_task) is None  # the ps task serves; only the chief coordinates


def test_global_batch_and_learning_rate_scaling():
    assert distribution.per_replica_batch(64, 8) == 8
    assert distribution.per_replica_batch(64, 1) == 64
    with pytest.raises(UsageError, match="--batch_size: global batch 60 does not divide over 8 replicas"):
        distribution.per_replica_batch(60, 8)
    assert distribution.scaled_learning_rate(0.1, 8, scale=True) == pytest.approx(0.8)
    assert distribution.scaled_learning_rate(0.1, 8, scale=False) == 0.1
    assert distribution.num_replicas(None) == 1
