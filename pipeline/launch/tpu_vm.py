"""A training run on a Cloud TPU VM: pack the code, create the VM, copy, train with --strategy=tpu, delete.

On a TPU VM the TPU is attached to the host, so the run resolves it as
``--tpu=local``; single-host slices (v3-8, v4-8, v5litepod-8) use the
``tpu-vm-tf-<version>-pjrt`` runtime, multi-host slices the ``-pod-`` one and
run the same command on every host (``--worker=all``).
"""

from __future__ import annotations

import dataclasses
import re

from common.errors import UsageError
from pipeline.launch import TRAIN_MODULE, format_command, require_gcs, split_train_args

TF_VERSION = "2.15.0"
# Cores per chip: v2/v3/v4 count TensorCores in the type (v3-8 is 4 chips), v5e/v5p chips.
_ACCELERATOR = re.compile(r"^v(\d+)([a-z]*)-(\d+)$")
_SINGLE_HOST_MAX = {"": 8, "litepod": 8, "p": 8, "e": 8}
MANAGED_FLAGS = ("strategy", "tpu", "tpu_zone", "gcp_project", "model_dir", "use_tpu", "engine")
# keras: Model.fit under TPUStrategy, what Cloud TPU documents for TF 2; tpu_estimator: TPUEstimator.
TPU_ENGINES = ("keras", "tpu_estimator")
# The tpu-vm-tf-2.15.0 runtimes run Python 3.10: the lock made for it (docs/distribution.md).
LOCK = "requirements-py310.lock"
# The TPU image ships TensorFlow 2.15 built for the TPU: install every other pin of the lock, exactly
# (--no-deps: the lock is complete), and never PyPI's CPU tensorflow over the image's. g++ builds
# pyfarmhash (TFDV's), which PyPI has only as source.
SETUP = (
    "(command -v g++ >/dev/null || (sudo apt-get update -qq && sudo apt-get install -y -qq g++))"
    f" && grep -v -E '^(tensorflow|tensorflow-cpu)==' {LOCK} > /tmp/kestrel-requirements.txt"
    " && python3 -m pip install --quiet --no-deps -r /tmp/kestrel-requirements.txt"
)
# Left out of the copy: the virtual environment (the VM installs from the lock), runs and caches,
# and git's history; none of it is needed to train, and .venv alone is gigabytes.
# "./x" is the checkout's own top-level x; a bare name is left out at any depth.
COPY_EXCLUDES = (
    "./.venv",
    "./runs",
    "./.git",
    "./bazel-*",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
)


@dataclasses.dataclass(frozen=True)
class TpuVmJob:
    name: str
    zone: str
    job_dir: str  # gs:// model_dir: checkpoints and exports outlive the VM
    project: str | None = None
    accelerator_type: str = "v3-8"
    runtime_version: str | None = None  # None: from TF_VERSION and the slice size
    source_dir: str = "."
    remote_dir: str = "kestrel"
    train_args: tuple[str, ...] = ()
    engine: str = "keras"
    spot: bool = False
    delete_after: bool = True

    def __post_init__(self) -> None:
        if self.engine not in TPU_ENGINES:
            raise UsageError("engine", f"'{self.engine}' does not train on a TPU; allowed: {', '.join(TPU_ENGINES)}")
        if not re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", self.name):
            raise UsageError("name", f"'{self.name}' is not a TPU name (lowercase letters, digits, '-')")
        if not self.zone:
            raise UsageError("zone", "a TPU VM needs a zone, e.g. us-central1-a")
        if not _ACCELERATOR.match(self.accelerator_type):
            raise UsageError(
                "accelerator_type", f"'{self.accelerator_type}' is not a TPU type like v3-8 or v5litepod-8"
            )
        require_gcs(self.job_dir, "job_dir")

    @property
    def multi_host(self) -> bool:
        _, family, size = _ACCELERATOR.match(self.accelerator_type).groups()
        return int(size) > _SINGLE_HOST_MAX.get(family, 8)

    @property
    def runtime(self) -> str:
        if self.runtime_version:
            return self.runtime_version
        return f"tpu-vm-tf-{TF_VERSION}-{'pod-' if self.multi_host else ''}pjrt"

    def train_command(self) -> list[str]:
        return [
            "python3",
            "-m",
            TRAIN_MODULE,
            "--strategy=tpu",
            "--tpu=local",
            f"--engine={self.engine}",
            f"--model_dir={self.job_dir}",
            *self.train_args,
        ]

    def _where(self) -> list[str]:
        return [f"--zone={self.zone}", *([f"--project={self.project}"] if self.project else [])]

    @property
    def archive(self) -> str:
        """The local tarball of ``source_dir`` that is copied to the VM."""
        return f"/tmp/kestrel-{self.name}.tar.gz"

    def pack_command(self) -> list[str]:
        """tar of the checkout without COPY_EXCLUDES (gcloud's scp has no --exclude)."""
        excludes = [f"--exclude={pattern}" for pattern in COPY_EXCLUDES]
        return ["tar", "--create", "--gzip", f"--file={self.archive}", *excludes, f"--directory={self.source_dir}", "."]

    def commands(self) -> list[list[str]]:
        """Pack, gcloud create, copy, unpack + install + train (on every host), and delete."""
        create = [
            "gcloud",
            "compute",
            "tpus",
            "tpu-vm",
            "create",
            self.name,
            *self._where(),
            f"--accelerator-type={self.accelerator_type}",
            f"--version={self.runtime}",
            *(["--spot"] if self.spot else []),
        ]
        copy = [
            "gcloud",
            "compute",
            "tpus",
            "tpu-vm",
            "scp",
            self.archive,
            f"{self.name}:~/{self.remote_dir}.tar.gz",
            *self._where(),
            "--worker=all",
        ]
        unpack = (
            f"rm -rf ~/{self.remote_dir} && mkdir -p ~/{self.remote_dir}"
            f" && tar --extract --gzip --file=$HOME/{self.remote_dir}.tar.gz --directory=$HOME/{self.remote_dir}"
        )
        remote = f"{unpack} && cd ~/{self.remote_dir} && {SETUP} && {format_command(self.train_command())}"
        train = [
            "gcloud",
            "compute",
            "tpus",
            "tpu-vm",
            "ssh",
            self.name,
            *self._where(),
            "--worker=all",
            f"--command={remote}",
        ]
        commands = [self.pack_command(), create, copy, train]
        if self.delete_after:
            commands.append(["gcloud", "compute", "tpus", "tpu-vm", "delete", self.name, *self._where(), "--quiet"])
        return commands

    def spec(self) -> dict:
        return {
            "kind": "tpu_vm",
            "name": self.name,
            "project": self.project,
            "zone": self.zone,
            "accelerator_type": self.accelerator_type,
            "runtime_version": self.runtime,
            "hosts": "all" if self.multi_host else 1,
            "tpu": "local",
            "engine": self.engine,
            "job_dir": self.job_dir,
            "spot": self.spot,
            "command": self.train_command(),
        }


def make_job(**fields) -> TpuVmJob:
    """A TpuVmJob, with ``train_args`` given as one string as on the command line."""
    train_args = fields.pop("train_args", "")
    args = train_args if isinstance(train_args, tuple) else split_train_args(train_args, MANAGED_FLAGS)
    return TpuVmJob(train_args=args, **fields)
