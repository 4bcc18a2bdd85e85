"""The serving benchmark's scenarios, each against a scripts.serve process it starts on loopback.

Every scenario is bounded in requests and time. The figures go side by side in one table
(benchmarks/serving_load.py --model_base_path=...), with its target beside each.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ServeProcess:
    """``python -m scripts.serve`` on a free loopback port, for the duration of a ``with``."""

    def __init__(self, base_path: str, *extra: str):
        self.args = [
            sys.executable,
            "-m",
            "scripts.serve",
            "--rest_api_port=0",
            "--model_name=digits",
            f"--model_base_path={base_path}",
            *extra,
        ]

    def __enter__(self) -> ServeProcess:
        self.proc = subprocess.Popen(
            self.args, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        line = self.proc.stdout.readline()
        if not line.startswith("Exporting HTTP/REST API at:"):
            self.proc.kill()
            raise RuntimeError(f"scripts.serve did not start: {line!r}")
        self.port = int(line.split(":")[2].split()[0])
        self.url = f"http://127.0.0.1:{self.port}/v1/models/digits:predict"
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)

    def threads_and_rss_mb(self) -> tuple[int, float]:
        fields = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.split()
        return int(fields["Threads"][0]), int(fields["VmRSS"][0]) / 1024


class InProcess:
    """The signature called directly, as the server calls it and with its thread pools: the ceiling."""

    def __init__(self, export_path: str, png: bytes, intra_op: int = 0, inter_op: int = 0):
        from estimators.serving import versions

        versions.set_parallelism(intra_op, inter_op)
        self.loaded = versions.load_version(export_path, 0)
        self.inputs = {"image_bytes": np.array([png], dtype=object)}
        self.run(20)  # warm-up: the first calls allocate

    def run(self, calls: int) -> dict:
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            self.loaded.call("serving_default", self.inputs)
            times.append(time.perf_counter() - start)
        return {"calls_per_second": round(calls / sum(times), 1), "p50_ms": round(float(np.median(times)) * 1000, 3)}


def half_open(server: ServeProcess, count: int, good_request: Callable[[], float], probes: int = 20) -> dict:
    """``count`` connections that sent half a request and wait; meanwhile a good client's latency."""
    threads_before, rss_before = server.threads_and_rss_mb()
    sockets = []
    head = b"POST /v1/models/digits:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            sock.sendall(head)
            sockets.append(sock)
        time.sleep(0.5)  # the server has read them all
        threads_after, rss_after = server.threads_and_rss_mb()
        latencies = [good_request() for _ in range(probes)]
    finally:
        for sock in sockets:
            sock.close()
    return {
        "connections": count,
        "server_threads": [threads_before, threads_after],
        "server_rss_mb": [round(rss_before, 1), round(rss_after, 1)],
        "good_client_p50_ms": round(float(np.median(latencies)) * 1000, 2),
        "good_client_max_ms": round(float(np.max(latencies)) * 1000, 2),
    }


def one_request(port: int, body: bytes) -> Callable[[], float]:
    """A fresh connection, one predict, its latency (raises unless answered 200)."""
    import http.client

    def call() -> float:
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/v1/models/digits:predict", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"good request answered {response.status}")
        return time.perf_counter() - start

    return call
