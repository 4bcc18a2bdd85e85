"""Fuzzing scripts.serve over the request body, path and headers (hypothesis): whatever arrives, the
answer is a status with TF Serving's ``{"error": ...}`` JSON (or the server's own 4xx), never a 500 or a
dropped process, and after every case the server still answers a good request."""

from __future__ import annotations

import http.client
import io
import json
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from serving_client import MODEL, Server, b64

pytestmark = pytest.mark.large


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format="PNG")
    return buffer.getvalue()


GOOD = json.dumps({"instances": [b64(_png())]}).encode()

_PATH_PARTS = [
    "/v1",
    "/models",
    f"/{MODEL}",
    "/nope",
    "/versions/",
    "/labels/",
    "/metadata",
    ":predict",
    ":classify",
    ":regress",
    ":PREDICT",
    "1",
    "99999999999999999999999",
    "%00",
    "%ff",
    "/",
    "..",
    "é",
    "?x=1",
]
_KEYS = ["instances", "inputs", "signature_name", "examples", "context", "b64", "image_bytes", "images"]
_SIGNATURES = ["serving_default", "float_images:serving_default", "", "nope"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.sampled_from(_SIGNATURES),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(_KEYS), children, max_size=3),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    st.dictionaries(st.sampled_from(_KEYS), json_values, max_size=3).map(lambda v: json.dumps(v).encode()),
)
paths = st.lists(st.sampled_from(_PATH_PARTS), min_size=1, max_size=6).map("".join)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
headers = st.dictionaries(
    st.sampled_from(["Content-Type", "Accept", "X-Anything", "Transfer-Encoding", "Expect", "Connection", "Host"]),
    header_values,
    max_size=3,
)


@pytest.fixture(scope="module")
def server(digits_base):
    served = Server(
        digits_base, [f"--model_base_path={digits_base}", f"--model_name={MODEL}"], digits_base.parent / "err.log"
    )
    yield served
    served.stop()


def _send(port: int, method: str, path: str, body: bytes, extra: dict) -> int | None:
    """The status of one request sent as raw bytes (None if the server closed without answering)."""
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in extra.items() if k not in ("Host", "Transfer-Encoding")]
    if "Transfer-Encoding" in extra:
        head.append(f"X-Transfer-Encoding: {extra['Transfer-Encoding']}")  # a real one would change the framing
    raw = ("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + body
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    if not data:
        return None
    return int(data.split(b" ", 2)[1])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]), path=paths, body=bodies, extra=headers)
def test_any_request_gets_an_answer_and_the_server_keeps_serving(server, method, path, body, extra):
    status = _send(server.port, method, "/" + path.lstrip("/") if path[0] != "/" else path, body, extra)
    assert status is not None and 200 <= status < 500, (method, path, body[:80], extra, status)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request("POST", f"/v1/models/{MODEL}:predict", GOOD, {"Content-Type": "application/json"})
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    assert response.status == 200 and len(answer["predictions"]) == 1
    assert server.proc.poll() is None
