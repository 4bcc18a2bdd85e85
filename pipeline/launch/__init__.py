"""Cloud job launchers: specifications and gcloud commands for TPU VMs and Vertex AI custom jobs.

Each launcher builds a plain, JSON-able specification from its flags and the
gcloud command(s) that run it; ``--dry_run`` prints both and touches nothing.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence

from common.errors import KestrelError, UsageError

TRAIN_MODULE = "scripts.train"


def require_gcs(path: str, flag: str) -> None:
    """Cloud tasks share no local disk, and a deleted VM takes its disk along: use gs://."""
    if not path.startswith("gs://"):
        raise UsageError(flag, f"'{path}' must be a gs:// path: cloud tasks share no local disk")


def split_train_args(train_args: str, managed: Sequence[str]) -> tuple[str, ...]:
    """``--train_args`` as a list; the flags the launcher sets itself must not be repeated there."""
    try:
        args = tuple(shlex.split(train_args or ""))
    except ValueError as err:
        raise UsageError("train_args", f"cannot split: {err}") from None
    for arg in args:
        name = arg.lstrip("-").split("=", 1)[0]
        if not arg.startswith("--"):
            raise UsageError("train_args", f"'{arg}' is not a --flag of scripts.train")
        if name in managed or (name.startswith("no") and name[2:] in managed):
            raise UsageError("train_args", f"--{name} is set by the launcher; use the launcher's own flag")
    return args


def format_command(command: Sequence[str]) -> str:
    return shlex.join(command)


def run_commands(commands: Sequence[Sequence[str]]) -> None:
    """Run gcloud commands in order; the first failure stops the launch."""
    if shutil.which("gcloud") is None:
        raise UsageError(None, "gcloud not found: install the Google Cloud CLI, or use --dry_run to print the job")
    for command in commands:
        print(f"$ {format_command(command)}", flush=True)
        result = subprocess.run(list(command), check=False)
        if result.returncode:
            raise KestrelError(f"'{' '.join(command[:4])} ...' failed with exit status {result.returncode}")
