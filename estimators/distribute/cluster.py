"""The cluster a distributed run belongs to, read from TF_CONFIG and validated.

TF_CONFIG is the JSON every TensorFlow process of a cluster gets (Vertex AI
and TPU pods set it; tests set it by hand)::

    {"cluster": {"chief": ["host:port"], "worker": [...], "ps": [...]},
     "task": {"type": "worker", "index": 0}}

tf.estimator.RunConfig and tf.distribute's TFConfigClusterResolver read it by
themselves; this module checks it first so a mistake is one clear line
instead of a hang or a gRPC error minutes into a run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
from collections.abc import Mapping

from common.errors import UsageError

ENV = "TF_CONFIG"
CHIEF, WORKER, PS, EVALUATOR, MASTER = "chief", "worker", "ps", "evaluator", "master"
TASK_TYPES = (CHIEF, WORKER, PS, EVALUATOR, MASTER)


@dataclasses.dataclass(frozen=True)
class Cluster:
    """A validated TF_CONFIG: every job's addresses and this process's task."""

    jobs: Mapping[str, tuple[str, ...]]
    task_type: str
    task_index: int

    @property
    def is_chief(self) -> bool:
        """The task that writes checkpoints and exports: the chief, or worker 0 without one."""
        if CHIEF in self.jobs or MASTER in self.jobs:
            return self.task_type in (CHIEF, MASTER)
        return self.task_type == WORKER and self.task_index == 0

    @property
    def num_workers(self) -> int:
        """Training tasks: chief (or master) and workers."""
        return sum(len(self.jobs.get(job, ())) for job in (CHIEF, MASTER, WORKER))

    @property
    def num_ps(self) -> int:
        return len(self.jobs.get(PS, ()))

    @property
    def address(self) -> str | None:
        """This task's own host:port (an evaluator outside the cluster has none)."""
        addresses = self.jobs.get(self.task_type, ())
        return addresses[self.task_index] if self.task_index < len(addresses) else None

    def to_json(self) -> str:
        return tf_config_json(
            {job: list(addresses) for job, addresses in self.jobs.items()}, self.task_type, self.task_index
        )


def tf_config_json(jobs: Mapping[str, list[str]], task_type: str, task_index: int) -> str:
    """The TF_CONFIG value for one task of ``jobs`` (for launchers and tests)."""
    return json.dumps({"cluster": dict(jobs), "task": {"type": task_type, "index": task_index}}, sort_keys=True)


def read_cluster(environ: Mapping[str, str] | None = None) -> Cluster | None:
    """The validated TF_CONFIG of this process; None when it is unset or has no cluster."""
    raw = (os.environ if environ is None else environ).get(ENV, "").strip()
    if not raw:
        return None
    return parse_tf_config(raw)


def parse_tf_config(raw: str) -> Cluster | None:
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as err:
        raise UsageError(None, f"{ENV} is not valid JSON ({err.msg} at char {err.pos})") from None
    if not isinstance(config, dict):
        raise UsageError(None, f"{ENV} must be a JSON object with 'cluster' and 'task'")
    jobs = _parse_jobs(config.get("cluster") or {})
    if not jobs:
        return None
    task = config.get("task")
    if not isinstance(task, dict) or "type" not in task:
        raise UsageError(None, f"{ENV} has a cluster but no task; set task: {{type: ..., index: ...}}")
    task_type, task_index = task["type"], task.get("index", 0)
    if not isinstance(task_index, int) or isinstance(task_index, bool) or task_index < 0:
        raise UsageError(None, f"{ENV} task index {task_index!r} is not a non-negative integer")
    if task_type == EVALUATOR:
        # An evaluator sits outside the cluster (Estimator's convention): it
        # needs no address of its own.
        if task_index != 0:
            raise UsageError(None, f"{ENV} task evaluator index {task_index}: there is only one evaluator (index 0)")
        return Cluster(jobs=jobs, task_type=task_type, task_index=task_index)
    if task_type not in jobs:
        raise UsageError(None, f"{ENV} task type '{task_type}' is not in the cluster (jobs: {', '.join(sorted(jobs))})")
    if task_index >= len(jobs[task_type]):
        raise UsageError(
            None,
            f"{ENV} task {task_type}:{task_index} is not in the cluster "
            f"('{task_type}' has {len(jobs[task_type])} address(es), indices 0-{len(jobs[task_type]) - 1})",
        )
    return Cluster(jobs=jobs, task_type=task_type, task_index=task_index)


def _parse_jobs(cluster: object) -> dict[str, tuple[str, ...]]:
    if not isinstance(cluster, dict):
        raise UsageError(None, f"{ENV} 'cluster' must map job names to lists of host:port addresses")
    jobs: dict[str, tuple[str, ...]] = {}
    for job, addresses in cluster.items():
        if job not in TASK_TYPES:
            raise UsageError(None, f"{ENV} has unknown job '{job}'; allowed: {', '.join(TASK_TYPES)}")
        if isinstance(addresses, dict):  # the sparse form {"0": "host:port"}
            addresses = [addresses[k] for k in sorted(addresses, key=int)]
        if not isinstance(addresses, list) or not addresses:
            raise UsageError(None, f"{ENV} job '{job}' must be a non-empty list of host:port addresses")
        for address in addresses:
            if not isinstance(address, str) or ":" not in address:
                raise UsageError(None, f"{ENV} job '{job}' has address {address!r}; expected host:port")
        jobs[job] = tuple(addresses)
    if CHIEF in jobs and len(jobs[CHIEF]) != 1:
        raise UsageError(None, f"{ENV} job 'chief' must have exactly one address, not {len(jobs[CHIEF])}")
    if EVALUATOR in jobs and len(jobs[EVALUATOR]) != 1:
        raise UsageError(None, f"{ENV} job 'evaluator' must have exactly one address")
    return jobs


def require_cluster(strategy: str, cluster: Cluster | None) -> None:
    """Fail early, in one line, when ``strategy`` cannot run on ``cluster``."""
    if strategy == "parameter_server":
        if cluster is None:
            raise UsageError(
                "strategy", f"parameter_server needs a cluster in {ENV} with 'ps' and 'chief' or 'worker' jobs"
            )
        if cluster.num_ps == 0:
            raise UsageError("strategy", f"parameter_server needs at least one 'ps' task in {ENV}'s cluster")
        if cluster.num_workers == 0:
            raise UsageError("strategy", f"parameter_server needs a 'chief' or 'worker' task in {ENV}'s cluster")
    elif strategy == "multi_worker_mirrored":
        if cluster is None:
            raise UsageError(
                "strategy", f"multi_worker_mirrored needs a cluster in {ENV} with 'worker' (and 'chief') jobs"
            )
        if cluster.num_ps:
            raise UsageError("strategy", f"multi_worker_mirrored takes no 'ps' tasks; {ENV} has {cluster.num_ps}")
    elif cluster is not None and cluster.num_workers > 1 and strategy not in ("tpu",):
        raise UsageError(
            "strategy",
            f"'{strategy}' trains on one machine but {ENV} describes {cluster.num_workers} training tasks; "
            "use multi_worker_mirrored or parameter_server",
        )


def accepts_connections(address: str) -> bool:
    """Whether something listens at ``address`` (host:port) right now: a chief still up, a TPU's gRPC port."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False
