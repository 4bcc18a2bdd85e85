"""A Vertex AI custom job: worker pools for a strategy, and the gcloud command that submits it.

Vertex AI gives every replica a TF_CONFIG built from the pools, in order:
pool 0 is the chief, pool 1 the workers, pool 2 the parameter servers and
pool 3 the evaluator. Every replica runs the same container command; the
task type in its TF_CONFIG decides its role (estimators/cluster.py).
"""

from __future__ import annotations

import dataclasses
import json
import re

from common.errors import UsageError
from pipeline.launch import TRAIN_MODULE, require_gcs, split_train_args

POOL_TASKS = ("chief", "worker", "ps", "evaluator")
MANAGED_FLAGS = ("strategy", "model_dir", "num_gpus")
CLUSTER_STRATEGIES = ("multi_worker_mirrored", "parameter_server")
SINGLE_MACHINE = ("default", "one_device", "mirrored")


@dataclasses.dataclass(frozen=True)
class VertexJob:
    display_name: str
    region: str
    image_uri: str
    job_dir: str  # gs://, the model_dir every replica shares
    strategy: str = "mirrored"
    project: str | None = None
    machine_type: str = "n1-standard-8"
    accelerator_type: str | None = None  # e.g. NVIDIA_TESLA_T4; None: CPU only
    accelerator_count: int = 0
    workers: int = 0  # replicas in pool 1, beside the chief
    ps: int = 0
    ps_machine_type: str = "n1-highmem-8"
    evaluator: bool = False
    train_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self._check_where()
        self._check_strategy()
        self._check_pools()

    def _check_where(self) -> None:
        """Name, region, image and job directory: what every job needs."""
        if not self.display_name:
            raise UsageError("display_name", "a job needs a display name")
        if not self.region:
            raise UsageError("region", "a Vertex AI job needs a region, e.g. us-central1")
        if not re.fullmatch(r"[a-z0-9.-]+(:\d+)?/[^\s:]+(:[\w.-]+|@sha256:[0-9a-f]{64})?", self.image_uri or ""):
            raise UsageError(
                "image_uri", f"'{self.image_uri}' is not a container image like us-docker.pkg.dev/p/r/img:tag"
            )
        require_gcs(self.job_dir, "job_dir")

    def _check_strategy(self) -> None:
        if self.strategy == "tpu":
            raise UsageError("strategy", "TPU runs go through scripts/launch_tpu_vm.py (a TPU VM), not Vertex AI pools")
        if self.strategy not in SINGLE_MACHINE + CLUSTER_STRATEGIES:
            raise UsageError("strategy", f"unknown strategy '{self.strategy}'")
        if bool(self.accelerator_type) != (self.accelerator_count > 0):
            raise UsageError("accelerator_count", "set --accelerator_type and --accelerator_count > 0 together")

    def _check_pools(self) -> None:
        """The replicas beside the chief, and the accelerators, that the strategy can use."""
        if self.strategy in SINGLE_MACHINE and (self.workers or self.ps or self.evaluator):
            raise UsageError("strategy", f"'{self.strategy}' runs on one machine: no --workers, --ps or --evaluator")
        if self.strategy == "multi_worker_mirrored":
            if self.workers < 1:
                raise UsageError("workers", "multi_worker_mirrored needs --workers >= 1 beside the chief")
            if self.ps:
                raise UsageError("ps", "multi_worker_mirrored takes no parameter servers")
        if self.strategy == "parameter_server" and (self.ps < 1 or self.workers < 1):
            raise UsageError("ps", "parameter_server needs --ps >= 1 and --workers >= 1")
        if self.strategy == "one_device" and self.accelerator_count > 1:
            raise UsageError("accelerator_count", "one_device uses one accelerator; use mirrored for more")

    def container_args(self) -> list[str]:
        args = [f"--strategy={self.strategy}", f"--model_dir={self.job_dir}"]
        if self.accelerator_type and self.accelerator_type.startswith("NVIDIA"):
            args.append(f"--num_gpus={self.accelerator_count}")
        return [*args, *self.train_args]

    def _pool(self, replicas: int, machine_type: str, accelerated: bool) -> dict:
        machine: dict = {"machineType": machine_type}
        if accelerated and self.accelerator_type:
            machine |= {"acceleratorType": self.accelerator_type, "acceleratorCount": self.accelerator_count}
        return {
            "machineSpec": machine,
            "replicaCount": replicas,
            "containerSpec": {
                "imageUri": self.image_uri,
                "command": ["python", "-m", TRAIN_MODULE],
                "args": self.container_args(),
            },
        }

    def worker_pool_specs(self) -> list[dict]:
        """Pools in Vertex's order; an unused pool between used ones is an empty ``{}``."""
        pools: list[dict] = [self._pool(1, self.machine_type, True)]
        wanted = [
            self._pool(self.workers, self.machine_type, True) if self.workers else {},
            self._pool(self.ps, self.ps_machine_type, False) if self.ps else {},
            self._pool(1, self.machine_type, True) if self.evaluator else {},
        ]
        while wanted and not wanted[-1]:
            wanted.pop()
        return pools + wanted

    def tf_config_tasks(self) -> dict[str, int]:
        """The tasks of the TF_CONFIG Vertex AI will set (one process each)."""
        if self.strategy in SINGLE_MACHINE:
            return {}
        counts = dict(zip(POOL_TASKS, (1, self.workers, self.ps, int(self.evaluator)), strict=True))
        return {task: n for task, n in counts.items() if n}

    def spec(self) -> dict:
        """The CustomJob's jobSpec (what --config takes)."""
        return {
            "workerPoolSpecs": self.worker_pool_specs(),
            "baseOutputDirectory": {"outputUriPrefix": self.job_dir},
        }

    def command(self, config_path: str) -> list[str]:
        return [
            "gcloud",
            "ai",
            "custom-jobs",
            "create",
            f"--region={self.region}",
            *([f"--project={self.project}"] if self.project else []),
            f"--display-name={self.display_name}",
            f"--config={config_path}",
        ]

    def config_text(self) -> str:
        # JSON is YAML: gcloud reads either.
        return json.dumps(self.spec(), indent=2, sort_keys=True) + "\n"


def make_job(**fields) -> VertexJob:
    train_args = fields.pop("train_args", "")
    args = train_args if isinstance(train_args, tuple) else split_train_args(train_args, MANAGED_FLAGS)
    return VertexJob(train_args=args, **fields)
