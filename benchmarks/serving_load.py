"""A bounded load test of a TF Serving REST endpoint on loopback: requests/sec and latency percentiles.

python -m benchmarks.serving_load --url=http://127.0.0.1:8501/v1/models/digits:predict \\
    --image=digit.png --requests=200 --threads=4 --out=runs/serving_load

Each thread keeps one HTTP/1.1 connection and sends its share of the requests; every answer's
status is counted, so a dropped or failed request shows in ``statuses`` rather than vanishing.
Writes ``serving_load.json`` and ``serving_load.png`` (latency histogram) under --out.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable

import numpy as np

from benchmarks import reporting
from common.progress import ProgressLine


def predict_body(image_path: str) -> bytes:
    with open(image_path, "rb") as f:
        encoded = base64.b64encode(f.read()).decode()
    return json.dumps({"instances": [{"image_bytes": {"b64": encoded}}]}).encode()


def _worker(url: str, body: bytes, count: int, deadline: float, out: list, lock: threading.Lock) -> None:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=max(1.0, deadline - time.monotonic()))
    headers = {"Content-Type": "application/json"}
    for _ in range(count):
        if time.monotonic() > deadline:
            record = ("timed out before sending", 0.0)
        else:
            start = time.perf_counter()
            try:
                conn.request("POST", parts.path, body, headers)
                response = conn.getresponse()
                response.read()
                record = (response.status, time.perf_counter() - start)
            except (OSError, http.client.HTTPException) as err:
                conn.close()  # the next request opens a new connection
                record = (type(err).__name__, time.perf_counter() - start)
        with lock:
            out.append(record)
    conn.close()


def run(
    url: str,
    body: bytes,
    requests: int = 200,
    threads: int = 4,
    time_limit_s: float = 120.0,
    say: Callable[[str], None] = print,
) -> dict:
    """Send ``requests`` POSTs over ``threads`` connections; their statuses, rate and latency percentiles."""
    results: list = []
    lock = threading.Lock()
    deadline = time.monotonic() + time_limit_s
    shares = [requests // threads + (i < requests % threads) for i in range(threads)]
    workers = [threading.Thread(target=_worker, args=(url, body, n, deadline, results, lock)) for n in shares]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    line = ProgressLine(
        requests, 1, max(1, requests // 10), what="requests", unit="requests", min_interval=1.0, say=say
    )
    line.update(0)
    while alive := [worker for worker in workers if worker.is_alive()]:
        alive[0].join(0.5)
        line.update(len(results))
    line.update(len(results))
    elapsed = time.perf_counter() - start
    latencies = np.array([s for status, s in results if status == 200]) * 1000
    percentiles = np.percentile(latencies, [50, 95, 99]) if latencies.size else [float("nan")] * 3
    return {
        "url": url,
        "requests": requests,
        "threads": threads,
        "statuses": {str(k): v for k, v in Counter(status for status, _ in results).items()},
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(latencies) / elapsed, 1) if elapsed else None,
        "latency_ms": {f"p{p}": round(float(v), 2) for p, v in zip((50, 95, 99), percentiles, strict=True)},
        "latencies_ms": [round(float(v), 3) for v in latencies],
    }


def summary(record: dict) -> str:
    lat = record["latency_ms"]
    return (
        f"{record['requests']} requests over {record['threads']} threads in {record['seconds']} s: "
        f"{record['requests_per_second']} req/s; latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, "
        f"p99 {lat['p99']} ms; statuses {record['statuses']}"
    )


def write(record: dict, out_dir: str) -> tuple[str, str]:
    """serving_load.json (with the machine) and serving_load.png (the latency histogram)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    json_path = reporting.write_json(
        {**record, "machine": reporting.machine()}, os.path.join(out_dir, "serving_load.json")
    )
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(record["latencies_ms"], bins=40)
    for name, value in record["latency_ms"].items():
        ax.axvline(value, linestyle="--", color="k", linewidth=0.8)
        ax.annotate(name, (value, ax.get_ylim()[1] * 0.9), fontsize=8)
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("requests")
    ax.set_title(f"{record['requests_per_second']} req/s, {record['threads']} threads")
    png_path = os.path.join(out_dir, "serving_load.png")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return json_path, png_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="A :predict URL")
    parser.add_argument("--image", required=True, help="An image file sent as image_bytes in every request")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--time_limit_s", type=float, default=120.0)
    parser.add_argument("--out", default="runs/serving_load")
    args = parser.parse_args()
    if not 1 <= args.threads <= args.requests:
        parser.error("--threads must be between 1 and --requests")
    record = run(args.url, predict_body(args.image), args.requests, args.threads, args.time_limit_s)
    paths = write(record, args.out)
    print(summary(record))
    print("wrote " + ", ".join(paths))


if __name__ == "__main__":
    main()
