"""scripts.serve as an HTTP server under stress: concurrent clients, half-open connections, the size
limits and the connection limit, batching's correctness and bounds, and a SIGTERM or SIGINT that lets the
request in flight finish."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from serving_client import MODEL, Server, b64, model_args, model_base

pytestmark = pytest.mark.large

PREDICT = f"/v1/models/{MODEL}:predict"


@pytest.fixture(scope="module")
def pngs(digits_builder) -> list[bytes]:
    """16 test digits as PNG bytes."""
    import io

    import tensorflow_datasets as tfds
    from PIL import Image

    out = []
    for image, _ in tfds.as_numpy(digits_builder.as_dataset(split="test[:16]", as_supervised=True)):
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0]).save(buffer, format="PNG")
        out.append(buffer.getvalue())
    return out


@pytest.fixture(scope="module")
def png(pngs) -> bytes:
    return pngs[0]


@pytest.fixture(scope="module")
def server(digits_base):
    args = [*model_args(digits_base), "--rest_api_idle_timeout_seconds=2"]
    with Server(digits_base, args, digits_base.parent / "err.log") as served:
        yield served


def _threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def test_fifty_concurrent_clients_are_all_answered(server, png):
    body = json.dumps({"instances": [b64(png)]}).encode()

    def client(_: int) -> list:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        statuses = []
        for _ in range(6):
            conn.request("POST", PREDICT, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
        conn.close()
        return statuses

    with ThreadPoolExecutor(50) as pool:
        statuses = [s for batch in pool.map(client, range(50)) for s in batch]
    assert statuses == [200] * 300


def test_half_open_connections_hold_no_threads_and_are_closed_when_idle(server, png):
    before = _threads(server.proc.pid)
    half_open = []
    for _ in range(200):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        half_open.append(sock)
    try:
        # A good client is answered while they hang (the benchmark measures how fast).
        assert server.post(PREDICT, {"instances": [b64(png)]})[0] == 200
        assert _threads(server.proc.pid) <= before + 2  # the I/O thread holds them, no thread each
        # --rest_api_idle_timeout_seconds=2: the server closes them (recv reads the end of the stream).
        half_open[0].settimeout(30)
        assert half_open[0].recv(1024) == b""
    finally:
        for sock in half_open:
            sock.close()


def test_size_limits_are_answered_not_read(server):
    status, _ = server.call("POST", PREDICT, None, {"Content-Length": str(1 << 30), "Content-Type": "application/json"})
    assert status == 413
    assert server.call("GET", f"/v1/models/{MODEL}", None, {"X-Big": "a" * (100 << 10)})[0] == 431


def test_connections_beyond_the_limit_wait_in_the_backlog_and_are_then_answered(trained_digits, tmp_path):
    base = model_base(trained_digits.export_path, tmp_path)
    args = [*model_args(base), "--rest_api_connection_limit=2"]
    served = Server(base, args, tmp_path / "err.log")
    try:
        held = [socket.create_connection(("127.0.0.1", served.port), timeout=30) for _ in range(2)]
        time.sleep(0.5)  # both accepted: the limit is reached
        answer: dict = {}
        thread = threading.Thread(target=lambda: answer.setdefault("value", served.call("GET", f"/v1/models/{MODEL}")))
        thread.start()
        thread.join(timeout=2)
        assert thread.is_alive(), "a third connection was served beyond --rest_api_connection_limit=2"
        for sock in held:
            sock.close()
        thread.join(timeout=30)
        assert answer["value"][0] == 200  # it waited, and was not refused
    finally:
        served.stop()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_finishes_the_request_in_flight(trained_digits, tmp_path, signum):
    base = model_base(trained_digits.export_path, tmp_path)
    served = Server(base, [f"--model_base_path={base}", f"--model_name={MODEL}"], tmp_path / "err.log")
    # A request that takes a while to compute: many images' pixels to read and classify.
    body = json.dumps(
        {"signature_name": "float_images:serving_default", "instances": np.ones((20000, 8, 8, 1)).tolist()}
    ).encode()
    answer: dict = {}

    def call() -> None:
        try:
            answer["value"] = served.call("POST", PREDICT, body)
        except (OSError, http.client.HTTPException) as err:  # the connection dropped: the request was cut off
            answer["value"] = (type(err).__name__, None)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.5)  # the body is sent and being computed
    served.proc.send_signal(signum)
    thread.join(timeout=120)
    code, result = answer["value"]
    assert code == 200 and len(result["predictions"]) == 20000
    assert served.proc.wait(timeout=60) == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", served.port), timeout=5).close()


# ---- batching -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batching_server(digits_base):
    params = digits_base.parent / "batching.config"
    params.write_text(
        "max_batch_size { value: 8 }\nbatch_timeout_micros { value: 1000000 }\nnum_batch_threads { value: 1 }\n"
    )
    args = [*model_args(digits_base), "--enable_batching", f"--batching_parameters_file={params}"]
    with Server(digits_base, args, digits_base.parent / "batching.log") as served:
        yield served


def test_batched_answers_are_each_requests_own(batching_server, server, pngs):
    """16 concurrent clients, each with its own digit, one with an image that does not decode: every
    other answer is what the unbatched server gives for that digit, and only the bad request fails."""
    bodies = [{"instances": [b64(p)]} for p in pngs]
    bodies[5] = {"instances": [b64(b"not an image")]}
    expected = [server.post(PREDICT, body) for body in bodies]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda body: batching_server.post(PREDICT, body), bodies))
    assert answers[5][0] == expected[5][0] == 400
    for i, ((code, answer), (_, alone)) in enumerate(zip(answers, expected, strict=True)):
        if i == 5:
            continue
        assert code == 200, answer
        (got,), (row,) = answer["predictions"], alone["predictions"]  # its own one row, not a neighbour's
        assert (got["class_ids"], got["class_names"]) == (row["class_ids"], row["class_names"])
        # A batch sums in another order than one image does: float32 rounding, no more.
        assert got["probabilities"] == pytest.approx(row["probabilities"], rel=1e-4, abs=1e-7)


def test_concurrent_requests_short_of_a_full_batch_are_answered_together_once_the_timeout_passes(batching_server, png):
    """7 concurrent requests (max_batch_size 8, batch_timeout_micros one second) wait for each other: every
    answer comes once the timeout has passed, all together; unbatched, each would come at once. (How a batch
    is made up is tests/unit/estimators/serving/test_batching.py's.)"""

    def timed(_) -> float:
        code, _answer = batching_server.post(PREDICT, {"instances": [b64(png)]})
        assert code == 200
        return time.monotonic() - start

    start = time.monotonic()
    with ThreadPoolExecutor(7) as pool:
        seconds = sorted(pool.map(timed, range(7)))
    assert seconds[0] >= 0.9 and seconds[-1] < 3.0, seconds
    assert seconds[-1] - seconds[0] < 0.5, seconds


def test_a_request_larger_than_max_batch_size_is_refused(batching_server, png):
    assert batching_server.post(PREDICT, {"instances": [b64(png)] * 9}) == (
        400,
        {"error": "Task size 9 is larger than maximum input batch size 8"},
    )


def _said_threads(log) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.startswith("TensorFlow threads")]


def test_tensorflows_thread_pools_are_its_own_choice_by_default(server):
    assert _said_threads(server.log) == [
        "TensorFlow threads: intra-op TensorFlow's choice, inter-op TensorFlow's choice"
    ]


def test_the_thread_pool_flags_set_tensorflows_pools(trained_digits, tmp_path, png):
    """TF Serving's --tensorflow_{intra,inter}_op_parallelism: the pools TensorFlow holds, said at start-up,
    and the server answers as before."""
    base = model_base(trained_digits.export_path, tmp_path)
    pools = ["--tensorflow_intra_op_parallelism=1", "--tensorflow_inter_op_parallelism=2"]
    with Server(base, [*model_args(base), *pools], tmp_path / "err.log") as served:
        code, answer = served.post(PREDICT, {"instances": [b64(png)]})
    assert _said_threads(served.log) == ["TensorFlow threads: intra-op 1, inter-op 2"]
    assert code == 200 and len(answer["predictions"]) == 1
