"""TF_CONFIG: parsed, checked in one line, and the strategies that need a cluster."""

from __future__ import annotations

import json

import pytest
from support import tf_config

from common.errors import UsageError
from estimators.distribute import cluster as cluster_lib

pytestmark = pytest.mark.small

JOBS = {"chief": ["h0:1000"], "worker": ["h1:1000", "h2:1000"], "ps": ["h3:1000"]}


def test_tf_config_parsed_and_roles():
    chief = cluster_lib.parse_tf_config(tf_config(JOBS, "chief"))
    worker = cluster_lib.parse_tf_config(tf_config(JOBS, "worker", 1))
    assert chief.is_chief and not worker.is_chief
    assert (chief.num_workers, chief.num_ps, worker.address) == (3, 1, "h2:1000")
    only_workers = cluster_lib.parse_tf_config(tf_config({"worker": ["a:1", "b:2"]}, "worker", 0))
    assert only_workers.is_chief  # worker 0 leads when there is no chief job
    evaluator = cluster_lib.parse_tf_config(tf_config(JOBS, "evaluator"))  # outside the cluster, as Estimator has it
    assert evaluator.task_type == "evaluator" and evaluator.address is None
    assert cluster_lib.read_cluster({}) is None
    assert cluster_lib.read_cluster({"TF_CONFIG": json.dumps({"cluster": {}})}) is None
    assert cluster_lib.parse_tf_config(chief.to_json()) == chief


@pytest.mark.parametrize(
    "raw,message",
    [
        ("{not json", "TF_CONFIG is not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (tf_config(JOBS, "master"), "task type 'master' is not in the cluster"),
        (tf_config(JOBS, "worker", 2), "task worker:2 is not in the cluster ('worker' has 2 address(es), indices 0-1)"),
        (tf_config(JOBS, "worker", -1), "is not a non-negative integer"),
        (json.dumps({"cluster": JOBS}), "has a cluster but no task"),
        (tf_config({"gpu": ["h:1"]}, "gpu"), "unknown job 'gpu'"),
        (tf_config({"worker": ["no-port"]}, "worker"), "expected host:port"),
        (tf_config({"worker": []}, "worker"), "must be a non-empty list"),
        (tf_config({"chief": ["a:1", "b:1"]}, "chief"), "exactly one address"),
    ],
)
def test_bad_tf_config_is_one_clear_line(raw, message):
    with pytest.raises(UsageError) as err:
        cluster_lib.parse_tf_config(raw)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_strategies_that_need_a_cluster_say_so():
    workers = cluster_lib.parse_tf_config(tf_config({"worker": ["a:1", "b:2"]}, "worker"))
    with pytest.raises(UsageError, match="parameter_server needs a cluster in TF_CONFIG"):
        cluster_lib.require_cluster("parameter_server", None)
    with pytest.raises(UsageError, match="at least one 'ps' task"):
        cluster_lib.require_cluster("parameter_server", workers)
    with pytest.raises(UsageError, match="multi_worker_mirrored needs a cluster"):
        cluster_lib.require_cluster("multi_worker_mirrored", None)
    with pytest.raises(UsageError, match="takes no 'ps' tasks"):
        cluster_lib.require_cluster("multi_worker_mirrored", cluster_lib.parse_tf_config(tf_config(JOBS, "chief")))
    with pytest.raises(UsageError, match="'mirrored' trains on one machine"):
        cluster_lib.require_cluster("mirrored", workers)
    cluster_lib.require_cluster("parameter_server", cluster_lib.parse_tf_config(tf_config(JOBS, "ps")))
