"""A bounded load test of TF Serving's REST API on loopback: requests/sec and latency percentiles.

One endpoint (a running server):
python -m benchmarks.serving_load --url=http://127.0.0.1:8501/v1/models/digits:predict \\
    --image=digit.png --requests=200 --threads=4 --out=runs/serving_load

The whole suite, side by side against the targets (it starts scripts.serve itself, batching off then on):
python -m benchmarks.serving_load --model_base_path=serving/digits --image=digit.png --out=runs/serving_load

Each thread keeps one HTTP/1.1 connection and sends its share of the requests; every answer's
status is counted, so a dropped, reset or failed request shows in ``statuses`` rather than vanishing.
Writes ``serving_load.json`` and ``serving_load.png`` under --out.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable

import numpy as np

from benchmarks import http_client, reporting
from common.progress import ProgressLine


def predict_body(image_path: str) -> bytes:
    with open(image_path, "rb") as f:
        encoded = base64.b64encode(f.read()).decode()
    return json.dumps({"instances": [{"image_bytes": {"b64": encoded}}]}).encode()


def _worker(url: str, body: bytes, count: int, deadline: float, out: list, lock: threading.Lock) -> None:
    parts = urllib.parse.urlsplit(url)
    conn = http_client.Connection(parts.hostname, parts.port, timeout=max(1.0, deadline - time.monotonic()))
    raw = http_client.prepared(parts.hostname, parts.port, parts.path, body)
    for _ in range(count):
        if time.monotonic() > deadline:
            record = ("timed out before sending", 0.0)
        else:
            start = time.perf_counter()
            try:
                status, _ = conn.request(raw)
                record = (status, time.perf_counter() - start)
            except (OSError, http_client.ProtocolError) as err:
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


BATCHING = "max_batch_size { value: 32 }\nbatch_timeout_micros { value: 2000 }\nnum_batch_threads { value: 1 }\n"


def _quiet(_: str) -> None:
    pass


ROUNDS = 3
WORKERS = 2  # --rest_api_workers of the workers scenario: one a core here
# The ratios taken in rounds: (base, measured).
PAIRS = (("in_process", "one_connection"), ("batching_off", "batching_on"), ("workers_off", "workers_on"))


def suite(
    base_path: str, image_path: str, out_dir: str, threads: tuple[int, int] = (0, 0), say: Callable[[str], None] = print
) -> dict:
    """Every scenario of the serving targets in one run; the figures side by side with their targets.

    ``threads`` (intra-op, inter-op; 0 is TensorFlow's choice) go to both servers and to the in-process
    ceiling alike, so the ratio compares the same call on the same thread pools. The two ratios are taken
    in ``ROUNDS`` rounds, each measuring its pair back to back (the machine's speed drifts from minute to
    minute); the median round of each is reported, every round is kept in the record.
    """
    from benchmarks import serving_scenarios as sc
    from estimators.serving import model_base

    newest = model_base.versions(base_path)[-1]
    body = predict_body(image_path)
    with open(image_path, "rb") as f:
        png = f.read()
    ceiling = sc.InProcess(os.path.join(base_path, str(newest)), png, *threads)
    record: dict = {"tensorflow_threads": {"intra_op": threads[0], "inter_op": threads[1]}}
    pools = (f"--tensorflow_intra_op_parallelism={threads[0]}", f"--tensorflow_inter_op_parallelism={threads[1]}")
    params = os.path.join(out_dir, "batching.config")
    os.makedirs(out_dir, exist_ok=True)
    with open(params, "w") as f:
        f.write(BATCHING)
    batching = ("--enable_batching", f"--batching_parameters_file={params}")
    two = f"--rest_api_workers={WORKERS}"
    with (
        sc.ServeProcess(base_path, *pools) as server,
        sc.ServeProcess(base_path, *pools, *batching) as batched,
        sc.ServeProcess(base_path, *pools, two) as workers,
        sc.ServeProcess(base_path, *pools, two, *batching) as workers_batched,
    ):
        run(server.url, body, 50, 1, say=_quiet)  # warm-ups
        for warm in (batched, workers, workers_batched):
            run(warm.url, body, 64, 32, say=_quiet)
        rounds = []
        for index in range(ROUNDS):
            say(f"round {index + 1} of {ROUNDS}: in-process calls, 1 connection, 32 clients batching off and on ...")
            rounds.append(
                {
                    "in_process": ceiling.run(500),
                    "one_connection": _brief(run(server.url, body, 500, 1, say=_quiet)),
                    "batching_off": _brief(run(server.url, body, 960, 32, say=_quiet)),
                    "batching_on": _brief(run(batched.url, body, 960, 32, say=_quiet)),
                    "workers_off": _brief(run(workers.url, body, 960, 32, say=_quiet)),
                    "workers_on": _brief(run(workers_batched.url, body, 960, 32, say=_quiet)),
                }
            )
        record["rounds"] = rounds
        for base, measured in PAIRS:
            record.update(_median_round(rounds, base, measured))
        for name, requests, count in (("four_threads", 1000, 4), ("fifty_clients", 300, 50)):
            say(f"{name}: {requests} requests over {count} connection(s) ...")
            record[name] = _brief(run(server.url, body, requests, count, say=_quiet))
        say("400 half-open connections ...")
        record["half_open"] = sc.half_open(server, 400, sc.one_request(server.port, body))
    record["rows"] = _rows(record)
    return record


def _rate(figures: dict) -> float:
    return figures.get("requests_per_second") or figures["calls_per_second"]


def round_ratios(record: dict) -> str:
    """Each round's two ratios, of which the table shows the medians."""
    pairs = [
        " / ".join(f"{_rate(r[measured]) / _rate(r[base]):.2f}x" for base, measured in PAIRS) for r in record["rounds"]
    ]
    return (
        f"rounds (1 connection vs in-process / batching on vs off / on vs off with {WORKERS} workers): "
        + ", ".join(pairs)
        + "; the table shows the medians"
    )


def _median_round(rounds: list[dict], base: str, measured: str) -> dict:
    """The pair (``base``, ``measured``) from the round whose ratio measured/base is the median."""
    ordered = sorted(rounds, key=lambda r: _rate(r[measured]) / _rate(r[base]))
    middle = ordered[len(ordered) // 2]
    return {base: middle[base], measured: middle[measured]}


def _brief(result: dict) -> dict:
    return {key: value for key, value in result.items() if key != "latencies_ms"}


def _rows(r: dict) -> list[list[str]]:
    """(scenario, figure, target, met) for the table."""
    inproc, one, four, fifty, half = (
        r["in_process"],
        r["one_connection"],
        r["four_threads"],
        r["fifty_clients"],
        r["half_open"],
    )
    ratio = one["requests_per_second"] / inproc["calls_per_second"]
    gain = r["batching_on"]["requests_per_second"] / r["batching_off"]["requests_per_second"]
    workers_gain = r["workers_on"]["requests_per_second"] / r["workers_off"]["requests_per_second"]
    all_ok = fifty["statuses"] == {"200": fifty["requests"]}
    return [
        [
            "in-process signature",
            f"{inproc['calls_per_second']:,.0f} calls/s, p50 {inproc['p50_ms']} ms",
            "(ceiling)",
            "",
        ],
        [
            "1 keep-alive connection",
            f"{one['requests_per_second']:,.0f} req/s ({ratio:.2f}x), p50 {one['latency_ms']['p50']} ms",
            ">= 0.6x, p50 <= 3 ms",
            _met(ratio >= 0.6 and one["latency_ms"]["p50"] <= 3),
        ],
        [
            "4 threads",
            f"{four['requests_per_second']:,.0f} req/s, p50 {four['latency_ms']['p50']} ms",
            ">= 1,000 req/s",
            _met(four["requests_per_second"] >= 1000),
        ],
        ["50 clients x 6", f"statuses {fifty['statuses']}", "all 300 answered 200", _met(all_ok)],
        [
            "400 half-open",
            f"threads {half['server_threads'][0]}->{half['server_threads'][1]}, RSS "
            f"{half['server_rss_mb'][0]}->{half['server_rss_mb'][1]} MB; good client p50 {half['good_client_p50_ms']} ms, "
            f"max {half['good_client_max_ms']} ms",
            "bounded; good client <= 100 ms",
            _met(half["server_threads"][1] <= half["server_threads"][0] + 2 and half["good_client_max_ms"] <= 100),
        ],
        [
            "batching on vs off (32 clients)",
            f"{r['batching_on']['requests_per_second']:,.0f} vs "
            f"{r['batching_off']['requests_per_second']:,.0f} instances/s ({gain:.2f}x)",
            ">= 2x",
            _met(gain >= 2),
        ],
        [
            f"batching on vs off, {WORKERS} workers",
            f"{r['workers_on']['requests_per_second']:,.0f} vs "
            f"{r['workers_off']['requests_per_second']:,.0f} instances/s ({workers_gain:.2f}x)",
            ">= 2x",
            _met(workers_gain >= 2),
        ],
    ]


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def table(rows: list[list[str]]) -> str:
    header = ["scenario", "measured", "target", ""]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


def write_suite(record: dict, out_dir: str) -> tuple[str, str]:
    """serving_load.json and serving_load.png (throughput per scenario, batching off and on)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    json_path = reporting.write_json(
        {**record, "machine": reporting.machine()}, os.path.join(out_dir, "serving_load.json")
    )
    names = ["in_process", "one_connection", "four_threads", "fifty_clients"]
    names += ["batching_off", "batching_on", "workers_off", "workers_on"]
    rates = [record["in_process"]["calls_per_second"]] + [record[n]["requests_per_second"] for n in names[1:]]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.bar([n.replace("_", "\n") for n in names], rates, color=["#888"] + ["#36c"] * 3 + ["#c63", "#3a3"] * 2)
    ax.axhline(1000, linestyle="--", color="k", linewidth=0.8)
    ax.set_ylabel("requests (calls) / s")
    ax.set_title("scripts.serve on loopback, digits")
    png_path = os.path.join(out_dir, "serving_load.png")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return json_path, png_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="A :predict URL (one run against a running server)")
    parser.add_argument("--model_base_path", help="The whole suite: scripts.serve started on this base path")
    parser.add_argument("--image", required=True, help="An image file sent as image_bytes in every request")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--time_limit_s", type=float, default=120.0)
    parser.add_argument("--out", default="runs/serving_load")
    parser.add_argument(
        "--tensorflow_intra_op_parallelism", type=int, default=0, help="As scripts.serve's flag (the whole suite)"
    )
    parser.add_argument(
        "--tensorflow_inter_op_parallelism", type=int, default=0, help="As scripts.serve's flag (the whole suite)"
    )
    args = parser.parse_args()
    if bool(args.url) == bool(args.model_base_path):
        parser.error("give one of --url or --model_base_path")
    if args.model_base_path:
        threads = (args.tensorflow_intra_op_parallelism, args.tensorflow_inter_op_parallelism)
        record = suite(args.model_base_path, args.image, args.out, threads)
        print(table(record["rows"]))
        print(round_ratios(record))
        print("wrote " + ", ".join(write_suite(record, args.out)))
        return
    if not 1 <= args.threads <= args.requests:
        parser.error("--threads must be between 1 and --requests")
    record = run(args.url, predict_body(args.image), args.requests, args.threads, args.time_limit_s)
    paths = write(record, args.out)
    print(summary(record))
    print("wrote " + ", ".join(paths))


if __name__ == "__main__":
    main()
