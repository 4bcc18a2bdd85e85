"""scripts.serve --rest_api_workers: several server processes on one port, started, replaced and stopped
by one supervisor, each answering TF Serving's REST API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from serving_client import MODEL, Server, b64, model_args, model_base
from support import REPO_ROOT

pytestmark = pytest.mark.large

PREDICT = f"/v1/models/{MODEL}:predict"
ONES = {"signature_name": "float_images:serving_default", "instances": np.ones((1, 8, 8, 1)).tolist()}


def _workers(pid: int) -> dict[int, str]:
    """The supervisor's children: pid -> command line."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode()
        except OSError:  # it ended meanwhile
            continue
        if ppid == pid:
            out[int(entry)] = cmdline
    return out


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


@pytest.fixture(scope="module")
def workers_server(digits_base):
    args = [*model_args(digits_base), "--rest_api_workers=2"]
    with Server(digits_base, args, digits_base.parent / "workers.log") as served:
        yield served


def test_two_workers_share_the_port_and_the_requests(workers_server):
    workers = _workers(workers_server.proc.pid)
    assert len(workers) == 2 and all("--rest_api_worker_fd=" in cmd for cmd in workers.values()), workers
    before = {pid: _cpu_ticks(pid) for pid in workers}
    with ThreadPoolExecutor(8) as pool:  # each request on a new connection, accepted by whichever worker is free
        codes = list(pool.map(lambda _: workers_server.post(PREDICT, ONES)[0], range(400)))
    assert codes == [200] * 400
    used = {pid: _cpu_ticks(pid) - before[pid] for pid in workers}
    assert min(used.values()) >= 0.15 * sum(used.values()), f"CPU ticks per worker: {used}"


def test_the_workers_split_tensorflows_thread_pools_between_them(workers_server):
    share = max(1, (os.cpu_count() or 1) // 2)
    said = [line for line in workers_server.log.read_text().splitlines() if line.startswith("TensorFlow threads:")]
    assert said[:2] == [f"TensorFlow threads: intra-op {share}, inter-op {share}"] * 2


def test_a_worker_that_dies_is_replaced_and_the_port_keeps_answering(workers_server):
    victim = min(_workers(workers_server.proc.pid))
    os.kill(victim, signal.SIGKILL)
    assert [workers_server.post(PREDICT, ONES)[0] for _ in range(20)] == [200] * 20  # the other worker answers
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        workers = _workers(workers_server.proc.pid)
        if len(workers) == 2 and victim not in workers:
            break
        time.sleep(0.5)
    assert len(workers) == 2 and victim not in workers, workers
    assert f"(pid {victim}) exited with status -9; starting another" in workers_server.log.read_text()
    time.sleep(0.5)
    code, answer = workers_server.post(PREDICT, {"instances": [b64(b"not an image")]})
    assert code == 400 and "error" in answer  # answered as before, by either worker


def test_ctrl_c_finishes_the_request_in_flight_and_stops_every_worker(trained_digits, tmp_path):
    """A terminal's Ctrl-C sends SIGINT to the whole process group: the supervisor and each worker at once."""
    base = model_base(trained_digits.export_path, tmp_path)
    served = Server(base, [*model_args(base), "--rest_api_workers=2"], tmp_path / "err.log", start_new_session=True)
    workers = _workers(served.proc.pid)
    body = json.dumps(
        {"signature_name": "float_images:serving_default", "instances": np.ones((20000, 8, 8, 1)).tolist()}
    ).encode()
    answer: dict = {}
    thread = threading.Thread(target=lambda: answer.setdefault("value", served.call("POST", PREDICT, body)))
    thread.start()
    time.sleep(0.5)  # the body is sent and being computed
    os.killpg(served.proc.pid, signal.SIGINT)
    thread.join(timeout=120)
    code, result = answer["value"]
    assert code == 200 and len(result["predictions"]) == 20000
    assert served.proc.wait(timeout=60) == 0
    assert not any(os.path.exists(f"/proc/{pid}") for pid in workers)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", served.port), timeout=5).close()


def test_workers_whose_supervisor_is_killed_outright_stop_and_free_the_port(trained_digits, tmp_path):
    base = model_base(trained_digits.export_path, tmp_path)
    served = Server(base, [*model_args(base), "--rest_api_workers=2"], tmp_path / "err.log")
    workers = _workers(served.proc.pid)
    served.proc.kill()  # SIGKILL: nothing is passed on
    served.proc.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in workers):
        time.sleep(0.5)
    assert not any(os.path.exists(f"/proc/{pid}") for pid in workers), "orphaned workers kept running"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", served.port), timeout=5).close()


def test_a_port_in_use_is_a_usage_error_before_any_worker_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        base = tmp_path / MODEL
        base.mkdir()
        run = subprocess.run(
            [sys.executable, "-m", "scripts.serve", *model_args(base), "--rest_api_workers=2"]
            + [f"--rest_api_port={port}"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [
        f"error: --rest_api_port: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
