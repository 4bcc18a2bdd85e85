"""The load tests' lean HTTP/1.1 client against a real socket server: keep-alive answers read exactly,
and an answer it cannot read is an error, never a misread."""

from __future__ import annotations

import socket
import threading

import pytest

from benchmarks import http_client

pytestmark = pytest.mark.small


def _serve(answers: list[bytes]) -> tuple[int, threading.Thread]:
    """A server on loopback: one connection, each request read to its body's end, answered in turn."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            pending = b""
            for answer in answers:
                while b"\r\n\r\n" not in pending:
                    pending += conn.recv(65536)
                head, _, pending = pending.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                while len(pending) < length:
                    pending += conn.recv(65536)
                pending = pending[length:]
                conn.sendall(answer)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def test_keep_alive_answers_are_read_exactly():
    # The second answer arrives in the same segment as nothing else, the first with its body split.
    port, thread = _serve(
        [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"HTTP/1.1 400 Bad\r\ncontent-length: 2\r\n\r\n{}"]
    )
    conn = http_client.Connection("127.0.0.1", port, timeout=10)
    raw = http_client.prepared("127.0.0.1", port, "/v1/models/m:predict", b'{"instances": [1]}')
    assert conn.request(raw) == (200, b"hello")
    assert conn.request(raw) == (400, b"{}")
    conn.close()
    thread.join(10)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nhello",
        b"SSH-2.0-OpenSSH\r\n\r\n",
    ],
    ids=["chunked", "chunked-with-length", "no-length", "not-http"],
)
def test_an_answer_it_cannot_read_is_an_error(answer):
    port, thread = _serve([answer])
    conn = http_client.Connection("127.0.0.1", port, timeout=10)
    with pytest.raises(http_client.ProtocolError):
        conn.request(http_client.prepared("127.0.0.1", port, "/", b"{}"))
    conn.close()
    thread.join(10)
