"""Several server processes on one listening socket (``--rest_api_workers``), as gunicorn's arbiter runs them.

One Python process answers every request's HTTP and JSON under one GIL, so it uses at most about 1.3-1.6
cores however many the machine has (docs/serving.md, "Workers"). Here each worker is a whole
``scripts.serve`` (every model loaded, its own batching and version polling) accepting from the one socket
the supervisor bound: a worker that is busy is slower to accept, so new connections go to the idle ones.
The supervisor imports no TensorFlow. It binds, starts the workers, prints TF Serving's start-up line once
every worker listens, starts a new worker when one dies, and on SIGTERM or SIGINT passes the signal on and
waits while each worker finishes its requests in flight.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

READY = "Exporting HTTP/REST API at:"  # TF Serving's start-up line; scripts and tests read the port from it
_RESTART_GAP_S = 1.0  # a worker that keeps dying is started again at most once a second
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def listen_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening TCP socket the workers inherit (OSError if it cannot bind, as waitress's own bind)."""
    first = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    family, kind, proto, _, address = first
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def inherited_socket(fd: int) -> socket.socket:
    """The listening socket a worker got from its supervisor."""
    return socket.socket(fileno=fd)


def stop_when_orphaned(stop: Callable[[], None], every_s: float = 0.5) -> None:
    """Call ``stop`` once this worker's supervisor is gone (killed outright, it could not pass a signal on),
    as gunicorn's workers watch their parent: the worker then drains and exits instead of holding the port."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        stop()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class Worker:
    """One ``scripts.serve`` child on the shared socket; its output after the start-up line is passed on."""

    def __init__(self, index: int, command: list[str], fd: int):
        self.index, self.started = index, time.monotonic()
        # `python -m scripts.serve` from anywhere, as a checkout or as Bazel's runfiles.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_REPO_ROOT, os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, pass_fds=(fd,), env=env)
        self.listening = False
        self.ready = threading.Event()  # set once the worker listens, or has ended without
        threading.Thread(target=self._forward, daemon=True).start()

    def _forward(self) -> None:
        """Wait for the start-up line, then pass the worker's later output on."""
        if self.proc.stdout.readline().startswith(READY):
            self.listening = True
            self.ready.set()
            for line in self.proc.stdout:
                print(line, end="", flush=True)
        self.ready.set()

    def wait_ready(self) -> bool:
        """True once the worker listens; False if it exited first (its own error is on the shared stderr)."""
        self.ready.wait()
        return self.listening


class Supervisor:
    """``count`` workers on ``sock``; ``run()`` returns the exit status once they have all stopped."""

    def __init__(self, sock: socket.socket, count: int, worker_args: list[str]):
        self.sock, self.count = sock, count
        self.command = [sys.executable, "-m", "scripts.serve", *worker_args, f"--rest_api_worker_fd={sock.fileno()}"]
        self._signal: int | None = None  # set by the handler alone: it must take no lock (http_server.serve)

    def _start(self, index: int) -> Worker:
        return Worker(index, self.command, self.sock.fileno())

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        workers = [self._start(i) for i in range(self.count)]
        if not all([w.wait_ready() for w in workers]):  # a worker could not start: its error line is said
            return self._stop_all(workers)
        host, port = self.sock.getsockname()[:2]
        print(f"{READY}{host}:{port} ...", flush=True)
        while self._signal is None:
            time.sleep(0.2)
            workers = [self._replace_if_dead(w) for w in workers]
        return self._stop_all(workers)

    def _on_signal(self, signum: int, _frame) -> None:
        self._signal = signum

    def _replace_if_dead(self, worker: Worker) -> Worker:
        status = worker.proc.poll()
        if status is None or self._signal is not None:
            return worker
        print(
            f"kestrel serve: worker {worker.index} (pid {worker.proc.pid}) exited with status {status}; starting another",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(max(0.0, worker.started + _RESTART_GAP_S - time.monotonic()))
        return self._start(worker.index)  # one that fails at once is replaced again on a later look

    def _stop_all(self, workers: list[Worker]) -> int:
        """Pass the stop signal on, wait for every worker's drain; the first worker's failing status, else 0."""
        for worker in workers:
            if worker.proc.poll() is None:
                worker.proc.send_signal(self._signal or signal.SIGTERM)
        # A terminal's Ctrl-C reaches every worker as well: the signal passed on may then land after a worker's
        # drain, once Python has put the default handlers back on its way out. Dying of it there is a clean stop.
        statuses = [_clean(worker.proc.wait()) for worker in workers]
        self.sock.close()
        for worker, status in zip(workers, statuses, strict=True):
            if status != 0:
                print(
                    f"kestrel serve: worker {worker.index} (pid {worker.proc.pid}) stopped with status {status}",
                    file=sys.stderr,
                    flush=True,
                )
        return next((status if status > 0 else 1 for status in statuses if status != 0), 0)


def _clean(status: int) -> int:
    return 0 if status in (-signal.SIGTERM, -signal.SIGINT) else status
