"""The HTTP server under the REST API: waitress, bounded, with a graceful stop on SIGTERM.

Why waitress (docs/serving.md has the comparison and its figures): one process holds the models
(TensorFlow's memory; several only when asked, each a whole server: workers.py);
waitress's one I/O thread reads each request whole (headers and body bounded) before a worker
thread sees it, so a slow or half-sent request holds a socket, never a thread, and is closed
after ``idle_timeout_s``; it sets TCP_NODELAY and writes small answers in one send (no 40 ms
Nagle stall); its listen backlog and connection limit are settings. The WSGI workers run the
signatures, which release the GIL inside TensorFlow.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time

from waitress.channel import HTTPChannel
from waitress.server import create_server


@dataclasses.dataclass(frozen=True)
class Limits:
    threads: int = 32  # requests computed at once (TF Serving's --rest_api_num_threads)
    connection_limit: int = 1000  # open connections; beyond it new ones wait in the backlog
    backlog: int = 2048  # the listen queue (the kernel caps it at net.core.somaxconn)
    idle_timeout_s: int = 30  # a connection idle or half-sent this long is closed
    max_header_bytes: int = 64 << 10
    max_body_bytes: int = 64 << 20
    grace_s: float = 30.0  # SIGTERM: how long in-flight requests get to finish


class Server:
    """A waitress server around a WSGI app; ``serve()`` runs until SIGTERM/SIGINT, then drains."""

    def __init__(self, app, host: str | None = None, port: int | None = None, limits: Limits = Limits(), sock=None):
        self._inflight = 0
        self._cond = threading.Condition()
        self._stopping = False  # a plain flag: a signal handler must take no lock (see serve)
        self._limits = limits
        # A worker of several (workers.py) accepts from the socket its supervisor bound.
        where = {"sockets": [sock]} if sock is not None else {"host": host, "port": port}
        self._waitress = create_server(
            self._counted(app),
            **where,
            threads=limits.threads,
            connection_limit=limits.connection_limit,
            backlog=limits.backlog,
            channel_timeout=limits.idle_timeout_s,
            cleanup_interval=max(1, limits.idle_timeout_s // 4),
            max_request_header_size=limits.max_header_bytes,
            max_request_body_size=limits.max_body_bytes,
            asyncore_use_poll=True,  # select() cannot watch more than 1024 sockets
            expose_tracebacks=False,
            ident="kestrel",
        )
        # Waitress counts its own listening socket(s) and wake-up trigger against connection_limit (len of its
        # socket map), so N would admit N - 2 clients and 2 none at all: raise it by what is open now.
        self._waitress.adj.connection_limit = limits.connection_limit + len(self._waitress._map)

    @property
    def address(self) -> tuple[str, int]:
        return self._waitress.effective_host, int(self._waitress.effective_port)

    def _counted(self, app):
        def counted(environ, start_response):
            with self._cond:
                self._inflight += 1
            try:
                return app(environ, start_response)  # the app returns the whole body: the request is done
            finally:
                with self._cond:
                    self._inflight -= 1
                    self._cond.notify_all()

        return counted

    def serve(self) -> None:
        """Serve until SIGTERM or SIGINT; then stop accepting, finish the requests in flight, close."""
        # A handler runs in the main thread between two bytecodes, possibly while that thread holds a lock:
        # an Event.set() in it then waits for itself forever (a second SIGTERM, arriving while the first
        # handler held the Event's lock, hung a worker). So the handler only sets a flag, polled here.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        loop = threading.Thread(target=self._waitress.run, name="http-io", daemon=True)
        loop.start()
        while not self._stopping:
            time.sleep(0.2)
        self.drain()
        loop.join(timeout=5)

    def _on_signal(self, *_) -> None:
        self._stopping = True

    def stop(self) -> None:
        self._stopping = True

    def drain(self) -> None:
        server = self._waitress
        server.accepting = False  # no new connections; the listening socket closes next
        server.del_channel()
        server.socket.close()
        server.pull_trigger()
        deadline = time.monotonic() + self._limits.grace_s
        while time.monotonic() < deadline and self._busy():
            with self._cond:
                self._cond.wait(0.05)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        for channel in list(server._map.values()):  # waitress's map of open connections
            channel.close()

    def _busy(self) -> bool:
        """A request is computing, or an answer is still being sent."""
        if self._inflight:
            return True
        channels = [c for c in list(self._waitress._map.values()) if isinstance(c, HTTPChannel)]
        return any(c.requests or c.total_outbufs_len for c in channels)
