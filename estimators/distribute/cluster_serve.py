"""The loop of a cluster task that only serves: a ps task (both engines) or a Keras parameter_server worker."""

from __future__ import annotations

import os
import time

import tensorflow as tf

from estimators.distribute import cluster as cluster_lib


def serve_cluster_task(cluster: cluster_lib.Cluster, poll_secs: float = 1.0) -> None:
    """Serve this ps or worker task until the chief is done, then return.

    Under parameter_server the chief runs the program (Keras's coordinator,
    or the Estimator's chief); ps tasks (and Keras's workers) only host
    variables and run the steps it sends. A tf.distribute.Server cannot be
    stopped, so this watches the chief's own server: once it has been up and
    stops accepting connections, the chief has finished (or died) and this
    task is no longer needed.
    """
    os.environ.setdefault("GRPC_FAIL_FAST", "use_caller")
    tf.distribute.Server(
        tf.train.ClusterSpec({job: list(addresses) for job, addresses in cluster.jobs.items()}),
        job_name=cluster.task_type,
        task_index=cluster.task_index,
        protocol="grpc",
        start=True,
    )
    chief = (cluster.jobs.get(cluster_lib.CHIEF) or cluster.jobs.get(cluster_lib.MASTER) or ("",))[0]
    seen = False
    while True:
        up = cluster_lib.accepts_connections(chief)
        if seen and not up:
            return
        seen = seen or up
        time.sleep(poll_secs)
