"""Pushing to, pruning and rolling back a TensorFlow Serving model directory.

Layout (what TF Serving's file-system source watches with ``--model_base_path``)::

    serving/<model>/1/saved_model.pb ...     numbered versions: the highest is served
    serving/<model>/2/...
    serving/<model>/.incoming-3-<pid>/       a push being copied (not a number: never loaded)
    serving/<model>/.rolled_back/3/          versions set aside by a rollback

Push copies the export aside and renames it to its number: rename is atomic on
one file system, so the server sees no version or a whole one, never half.

Rollback re-points serving by *moving the newer versions aside* into
``.rolled_back/``: TF Serving's default version policy (latest) then serves the
target with no server configuration to change, and it ignores directories whose
names are not numbers. Version numbers are never reused: the next push takes a
number above every version ever pushed, rolled-back ones included.
"""

from __future__ import annotations

import os
import shutil

from common.errors import UsageError

INCOMING_PREFIX = ".incoming-"
ROLLED_BACK = ".rolled_back"


class ServingDir:
    """``serving_root/<model>``: its versions, pushes, pruning and rollbacks."""

    def __init__(self, serving_root: str, model: str):
        self.root = os.path.join(serving_root, model)
        self.aside = os.path.join(self.root, ROLLED_BACK)

    def versions(self) -> list[int]:
        """Versions TF Serving can load, oldest first."""
        return _numbered(self.root)

    def rolled_back(self) -> list[int]:
        return _numbered(self.aside)

    def served(self) -> int | None:
        """The version TF Serving's default policy serves: the highest number."""
        versions = self.versions()
        return versions[-1] if versions else None

    def path(self, version: int) -> str:
        return os.path.join(self.root, str(version))

    def next_version(self, at_least: int = 0) -> int:
        """One above every version ever here (``at_least``: the registry's highest, covering pruned ones)."""
        return max([at_least, *self.versions(), *self.rolled_back()]) + 1

    def push(self, export_dir: str, version: int, keep: int) -> tuple[str, list[int]]:
        """Copy ``export_dir`` in as ``version`` atomically; prune to ``keep``. Returns (path, pruned versions)."""
        final = self.path(version)
        if os.path.exists(final):
            raise UsageError("serving_dir", f"version {version} already exists at {final}")
        os.makedirs(self.root, exist_ok=True)
        self.clean_incoming()
        incoming = os.path.join(self.root, f"{INCOMING_PREFIX}{version}-{os.getpid()}")
        shutil.copytree(export_dir, incoming)
        _fsync_tree(incoming)
        os.rename(incoming, final)
        _fsync_dir(self.root)
        return final, self.prune(keep)

    def prune(self, keep: int) -> list[int]:
        """Delete all but the newest ``keep`` versions (the served one is the newest, so it stays)."""
        pruned = []
        for base, versions in ((self.root, self.versions()), (self.aside, self.rolled_back())):
            for version in versions[: max(0, len(versions) - keep)]:
                shutil.rmtree(os.path.join(base, str(version)))
                pruned.append(version)
        return pruned

    def clean_incoming(self) -> None:
        """Remove copies left by a push that was killed before its rename."""
        if not os.path.isdir(self.root):
            return
        for name in os.listdir(self.root):
            if name.startswith(INCOMING_PREFIX):
                shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)

    def rollback(self, to_version: int | None = None) -> tuple[int, list[int]]:
        """Serve ``to_version`` (default: the version before the served one). Returns (served, set aside)."""
        versions = self.versions()
        served = versions[-1] if versions else None
        if to_version is None:
            older = [v for v in versions if served is not None and v < served]
            if not older:
                kept = ", ".join(map(str, versions)) or "none"
                raise UsageError("rollback", f"no earlier version to roll back to in {self.root} (kept: {kept})")
            to_version = older[-1]
        if to_version in self.rolled_back():
            # Rolling forward again to a version set aside earlier: bring it back first.
            os.rename(os.path.join(self.aside, str(to_version)), self.path(to_version))
        elif to_version not in versions:
            kept = ", ".join(map(str, versions + self.rolled_back())) or "none"
            raise UsageError("to_version", f"version {to_version} is not kept in {self.root} (kept: {kept})")
        moved = [v for v in self.versions() if v > to_version]
        if moved:
            os.makedirs(self.aside, exist_ok=True)
        # Newest first: at every instant the highest remaining version is a whole, older one.
        for version in sorted(moved, reverse=True):
            target = os.path.join(self.aside, str(version))
            if os.path.exists(target):
                shutil.rmtree(target)
            os.rename(self.path(version), target)
        _fsync_dir(self.root)
        return to_version, moved


def _numbered(directory: str) -> list[int]:
    if not os.path.isdir(directory):
        return []
    return sorted(
        int(name) for name in os.listdir(directory) if name.isdigit() and os.path.isdir(os.path.join(directory, name))
    )


def _fsync_tree(root: str) -> None:
    """Flush the copy's files before the rename publishes it: a crash cannot publish empty files."""
    for base, _, names in os.walk(root):
        for name in names:
            fd = os.open(os.path.join(base, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
