"""A lean HTTP/1.1 keep-alive client for load tests: one prepared request, each answer's status and body.

Why not ``http.client``: it parses every answer's headers with ``email.parser``, which cost about 0.36 ms
of CPU a request here, a third of the server's own work on the same two cores, so a load test on loopback
measured its client as much as the server (docs/serving.md, "Load and figures"). urllib3 and requests sit on
``http.client``; httpx's pure-Python h11 costs more still. This client sends bytes prepared once and reads
the status line, the headers up to their blank line, and exactly ``Content-Length`` bytes of body. An
answer without a length (chunked, or ended by closing) is a ``ProtocolError``, never misread.
"""

from __future__ import annotations

import socket


class ProtocolError(Exception):
    """An answer this client does not read: no status line, no Content-Length, or the connection ended."""


def prepared(host: str, port: int, path: str, body: bytes, content_type: str = "application/json") -> bytes:
    """A POST's bytes, sent as they are on every call."""
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode("latin-1") + body


class Connection:
    """One keep-alive connection, opened on the first request and again after a failure or a close."""

    def __init__(self, host: str, port: int, timeout: float):
        self._address, self._timeout = (host, port), timeout
        self._sock: socket.socket | None = None
        self._pending = b""

    def request(self, raw: bytes) -> tuple[int, bytes]:
        if self._sock is None:
            self._sock = socket.create_connection(self._address, timeout=self._timeout)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.sendall(raw)
        status, length, close = _head(self._read_until(b"\r\n\r\n"))
        body = self._read_exactly(length)
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock, self._pending = None, b""

    def _read_until(self, marker: bytes) -> bytes:
        while (end := self._pending.find(marker)) < 0:
            self._more()
        found, self._pending = self._pending[:end], self._pending[end + len(marker) :]
        return found

    def _read_exactly(self, count: int) -> bytes:
        while len(self._pending) < count:
            self._more()
        found, self._pending = self._pending[:count], self._pending[count:]
        return found

    def _more(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ProtocolError("the server closed the connection mid-answer")
        self._pending += chunk


def _head(head: bytes) -> tuple[int, int, bool]:
    """(status, Content-Length, whether the server closes) from the status line and headers."""
    status_line, *lines = head.split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    if not version.startswith(b"HTTP/1.") or not rest[:3].isdigit():
        raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:60]!r}")
    fields = {}
    for line in lines:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    if b"content-length" not in fields or b"transfer-encoding" in fields:
        raise ProtocolError("an answer without Content-Length")
    return int(rest[:3]), int(fields[b"content-length"]), fields.get(b"connection", b"").lower() == b"close"
