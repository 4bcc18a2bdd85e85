"""One retraining at a time per work_dir: an exclusive, non-blocking flock on a lock file.

flock belongs to the open file description, so the kernel releases it when the
holder exits for any reason (SIGKILL, OOM, reboot): a stale lock file left
behind never blocks the next run. The file keeps the holder's pid and start
time only to say who holds it.
"""

from __future__ import annotations

import datetime
import fcntl
import os
import socket
from types import TracebackType

from common.errors import KestrelError
from pipeline.retraining import exits

LOCK_FILE = "retrain.lock"
ALREADY_RUNNING_EXIT = exits.ALREADY_RUNNING


class AlreadyRunningError(KestrelError):
    """Another retraining holds the lock: cron fired again before the last run ended."""

    exit_code = ALREADY_RUNNING_EXIT


class RetrainLock:
    """``with RetrainLock(work_dir):`` -- raises AlreadyRunningError at once if another process holds it."""

    def __init__(self, work_dir: str):
        os.makedirs(work_dir, exist_ok=True)
        self.path = os.path.join(work_dir, LOCK_FILE)
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise AlreadyRunningError(
                f"already running ({holder or 'holder unknown'}); lock {self.path} -- this invocation exits"
            ) from None
        os.ftruncate(fd, 0)
        started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {started}\n".encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        # Empty the file before unlocking: a reader never sees a dead holder's pid as current.
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RetrainLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        return ""
