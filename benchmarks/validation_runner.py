"""Benchmark: TFDV statistics (the validation gate) on 1 vs 2 DirectRunner workers, same data, one run.

python -m scripts.benchmark_validation --rows=1000000 --workers=1,2 --repeats=2 --out=runs/benchmark_validation

The library of that command (scripts/benchmark_validation.py holds its flags): ``run(Config)``
in the parent, ``run_one`` in each child.

Generates --rows rows of 20 features (12 float, 4 int, 4 categorical) into --shards TFRecord
(or CSV) files once, then runs the whole gate (Beam statistics, schema, checks, reports) once per
worker count and repeat, round-robin (1, 2, 1, 2, ...), each in its own child process so that each
run's peak memory (child, Beam workers and all) and CPU seconds are its own. Each run reports the
whole-gate time and the statistics pass apart from the fixed costs: the pass runs from the first
decoded batch to the end of the Beam job (statistics.JobTiming); before it are starting the
workers and importing TFDV in them, after it schema inference, checks and reports. The best run
of each worker count (shortest pass) counts. Writes benchmark.json and benchmark.png (rows/sec,
CPU per row and peak memory per worker count) into --out.

The target: 2 workers >= 1.6x the rows/sec of 1 worker on the statistics pass, at the same
peak memory or less. The machine is shared: load averages are recorded with every run, and CPU
seconds per row (every process of the run) is reported beside rows/sec as the load-robust figure.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import subprocess
import sys
import threading
import time

import numpy as np
import psutil
import pyarrow as pa

from benchmarks import reporting
from common import processes
from common.errors import KestrelError, UsageError
from common.progress import run_counter
from pipeline.validation.config import RUNNING_MODES

NUM_FLOAT, NUM_INT, NUM_CAT = 12, 4, 4
_CHUNK = 50_000
TARGET_SPEEDUP = 1.6
MAX_WORKERS = 64


# --- generated data ------------------------------------------------------------------------------


def _columns(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {}
    for i in range(NUM_FLOAT):
        cols[f"f{i}"] = rng.normal(i, 1 + i / 4, n).astype(np.float32)
    for i in range(NUM_INT):
        cols[f"i{i}"] = rng.integers(0, 10 ** (i + 1), n)
    for i in range(NUM_CAT):
        vocab = np.array([f"v{i}_{k}" for k in range(5 + 10 * i)])
        cols[f"c{i}"] = vocab[rng.integers(0, len(vocab), n)]
    return cols


def _list_array(values: np.ndarray) -> pa.Array:
    """One value per row, as the list<float32|int64|binary> columns tf.Example encoding takes."""
    offsets = pa.array(np.arange(len(values) + 1, dtype=np.int64))
    if values.dtype.kind == "U":
        flat = pa.array(np.char.encode(values).tolist(), type=pa.large_binary())
    else:
        flat = pa.array(values)
    return pa.LargeListArray.from_arrays(offsets, flat)


def _write_tfrecord(path: str, n: int, rng: np.random.Generator) -> None:
    import tensorflow as tf
    from tfx_bsl.coders import example_coder

    with tf.io.TFRecordWriter(path) as writer:
        for start in range(0, n, _CHUNK):
            cols = _columns(min(_CHUNK, n - start), rng)
            arrays = [_list_array(v) for v in cols.values()]
            batch = pa.RecordBatch.from_arrays(arrays, list(cols))
            for record in example_coder.RecordBatchToExamplesEncoder().encode(batch):
                writer.write(record)


def _write_csv(path: str, n: int, rng: np.random.Generator) -> None:
    import pandas as pd

    header = True
    for start in range(0, n, _CHUNK):
        pd.DataFrame(_columns(min(_CHUNK, n - start), rng)).to_csv(
            path, mode="w" if header else "a", index=False, header=header
        )
        header = False


def generate(data_dir: str, rows: int, shards: int, fmt: str) -> str:
    """Writes the shards once; a later run with the same sizes reuses them."""
    os.makedirs(data_dir, exist_ok=True)
    ext = "tfrecord" if fmt == "tfrecord" else "csv"
    done = os.path.join(data_dir, f"DONE-{rows}-{shards}-{fmt}")
    pattern = os.path.join(data_dir, f"rows-*-of-{shards:05d}.{ext}")
    if os.path.exists(done):
        print(f"reusing {rows:,} generated rows in {data_dir}", flush=True)
        return pattern
    start = time.monotonic()
    per_shard = [rows // shards + (1 if i < rows % shards else 0) for i in range(shards)]
    counter = run_counter(shards, what="generated shard", unit="shards")
    for i, n in enumerate(per_shard):
        path = os.path.join(data_dir, f"rows-{i:05d}-of-{shards:05d}.{ext}")
        (_write_tfrecord if fmt == "tfrecord" else _write_csv)(path, n, np.random.default_rng(i))
        counter.update(i + 1, f"{sum(per_shard[: i + 1]):,} rows")
    open(done, "w").close()
    print(f"generated {rows:,} rows in {time.monotonic() - start:,.1f} s", flush=True)
    return pattern


# --- one run (the child process) -----------------------------------------------------------------


def run_one(
    pattern: str, workers: int, artifacts: str, json_path: str, running_mode: str, semantic_domain_stats: bool
) -> None:
    """One whole gate with ``workers`` workers on fresh artifacts (the schema is inferred every run)."""
    from pipeline.validation import gate, statistics
    from pipeline.validation.config import RunnerOptions, ValidationConfig

    config = ValidationConfig(
        data=(pattern,),
        artifacts_dir=artifacts,
        span=0,
        label=None,
        semantic_domain_stats=semantic_domain_stats,
        runner=RunnerOptions(direct_running_mode=running_mode, direct_num_workers=workers),
        progress_every_rows=100_000,
    )
    start = time.monotonic()
    result = gate.run_gate(config)
    timing = statistics.last_job_timing()
    record = {
        "rows": result.num_examples["data"],
        "clean": result.clean,
        "gate_seconds": round(time.monotonic() - start, 2),
        "statistics": timing.as_dict() if timing else None,
    }
    with open(json_path, "w") as f:
        json.dump(record, f, indent=2)


# --- the parent: runs, samples, figures ----------------------------------------------------------


class TreeSampler(threading.Thread):
    """Resident memory of a process and all its descendants, and each one's CPU seconds, every ``every`` s.

    A process's CPU time is read last just before it exits (within ``every``); the parent's
    getrusage of its reaped children gives the exact total beside it. RSS counts the shared
    library pages (TensorFlow, TFDV) once in every process that maps them; every ``pss_every``-th
    sample also reads the tree's PSS, which shares them out (reading smaps is too slow for every sample).
    """

    def __init__(self, pid: int, every: float = 0.05, pss_every: int = 20):
        super().__init__(daemon=True)
        self.every = every
        self.pss_every = pss_every
        self.root = psutil.Process(pid)
        self.samples: list[tuple[float, int, int]] = []  # (seconds, bytes, processes)
        self.cpu: dict[int, tuple[str, float]] = {}  # pid -> (role, user + system seconds)
        self.peak_rss_by_pid: dict[int, int] = {}
        self.peak_pss = 0
        self._halt = threading.Event()
        self._start = time.monotonic()

    def run(self) -> None:
        while not self._halt.is_set():
            self._sample()
            self._halt.wait(self.every)

    def _sample(self) -> None:
        try:
            family = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        total = count = pss = 0
        read_pss = len(self.samples) % self.pss_every == 0
        for proc in family:
            try:
                with proc.oneshot():
                    rss = proc.memory_info().rss
                    times = proc.cpu_times()
                    role = self.cpu.get(proc.pid, (None,))[0] or _role(proc, self.root)
                    self.cpu[proc.pid] = (role, times.user + times.system)
                if read_pss:
                    pss += proc.memory_full_info().pss
                total += rss
                self.peak_rss_by_pid[proc.pid] = max(rss, self.peak_rss_by_pid.get(proc.pid, 0))
                count += 1
            except psutil.Error:  # gone between listing and reading
                pass
        self.peak_pss = max(self.peak_pss, pss)
        self.samples.append((time.monotonic() - self._start, total, count))

    def stop(self) -> None:
        self._halt.set()
        self.join()

    @property
    def peak(self) -> int:
        return max((b for _, b, _ in self.samples), default=0)

    def cpu_by_role(self) -> dict[str, list[float]]:
        roles: dict[str, list[float]] = {}
        for role, seconds in self.cpu.values():
            roles.setdefault(role, []).append(round(seconds, 2))
        return roles

    def peak_rss_mb_by_role(self) -> dict[str, list[int]]:
        """Each process's own peak RSS (MB), by role: where a run's memory is."""
        roles: dict[str, list[int]] = {}
        for pid, (role, _) in self.cpu.items():
            roles.setdefault(role, []).append(round(self.peak_rss_by_pid.get(pid, 0) / 2**20))
        return roles


def _role(proc: psutil.Process, root: psutil.Process) -> str:
    if proc.pid == root.pid:
        return "main"
    # Beam starts each worker through a shell: the shell is "other", the Python under it the worker.
    # A worker's own short-lived forks (subprocess between fork and exec) share its name and command
    # line; they are "other", or one worker would be counted twice.
    if not _looks_like_worker(proc):
        return "other"
    try:
        parent = proc.parent()
    except psutil.Error:
        return "other"
    return "other" if parent is not None and _looks_like_worker(parent) else "beam_worker"


def _looks_like_worker(proc: psutil.Process) -> bool:
    try:
        return proc.name().startswith("python") and "sdk_worker_main" in " ".join(proc.cmdline())
    except psutil.Error:
        return False


def _is_noise(line: str) -> bool:
    """TFDV's notice, from every process that imports it, that IPython is missing."""
    return "IPython" in line or "TFDV visualization" in line


def _child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclasses.dataclass(frozen=True)
class Arm:
    """What one run compares: a DirectRunner mode and a worker count (0: one per core)."""

    mode: str
    workers: int
    by_mode: bool  # the comparison is between modes (label: the mode), not worker counts

    @property
    def label(self) -> str:
        return self.mode if self.by_mode else str(self.workers)


@dataclasses.dataclass
class Run:
    arm: Arm
    repeat: int
    record: dict

    @property
    def workers(self) -> int:
        return self.arm.workers

    @property
    def seconds(self) -> float:
        """What the comparison ranks runs by: the whole gate between modes, the statistics pass between workers."""
        return self.record["gate_seconds"] if self.arm.by_mode else self.pass_seconds

    @property
    def pass_seconds(self) -> float:
        stats = self.record.get("statistics") or {}
        return stats.get("pass_seconds") or self.record["gate_seconds"]


def _child_argv(child_args: list[str], arm: Arm, artifacts: str, json_path: str) -> list[str]:
    """``child_args`` (the command's module, the data and settings every run shares), then this run's own."""
    return [
        sys.executable,
        "-m",
        *child_args,
        f"--direct_running_mode={arm.mode}",
        # 0 is "not a child" for --run_one: -1 asks for one worker per core.
        f"--run_one={arm.workers or -1}",
        f"--out={artifacts}",
        f"--run_json={json_path}",
    ]


def measure(arm: Arm, repeat: int, out: str, child_args: list[str]) -> Run:
    """One gate in a child process: its figures, its tree's peak memory and CPU seconds, the load."""
    workers = arm.workers
    name = f"{arm.mode}-workers{workers}-run{repeat}"
    artifacts = os.path.join(out, "artifacts", name)
    json_path = os.path.join(out, f"{name}.json")
    if os.path.exists(json_path):
        os.remove(json_path)
    load_start = [round(x, 2) for x in os.getloadavg()]
    cpu_before = _child_cpu_seconds()
    started = time.monotonic()
    # The child's lines are printed through this process's sys.stdout (not its file descriptor):
    # a caller that redirects sys.stdout (the CLI fuzz harness) gets them too.
    proc = subprocess.Popen(
        _child_argv(child_args, arm, artifacts, json_path),
        env=processes.child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    sampler = TreeSampler(proc.pid)
    sampler.start()
    last_error = ""
    for line in proc.stdout:
        line = line.rstrip("\n")
        if not _is_noise(line):
            print(line, flush=True)
        last_error = line if line.startswith("error:") else last_error
    returncode = proc.wait()
    wall = time.monotonic() - started
    sampler.stop()
    if returncode != 0 or not os.path.exists(json_path):
        raise KestrelError(f"the {arm.label} run exited with status {returncode}: {last_error or 'see above'}")
    record = reporting.read_json(json_path)
    rows = record["rows"]
    cpu_total = _child_cpu_seconds() - cpu_before
    stats = record.get("statistics") or {}
    pass_seconds = stats.get("pass_seconds") or record["gate_seconds"]
    record.update(
        {
            "workers": workers,
            "mode": arm.mode,
            "repeat": repeat,
            "process_seconds": round(wall, 2),
            "gate_rows_per_sec": round(rows / record["gate_seconds"]),
            "pass_rows_per_sec": round(rows / pass_seconds),
            "fixed_seconds": round(record["gate_seconds"] - pass_seconds, 2),
            "peak_memory_mb": round(sampler.peak / 2**20),
            "peak_memory_pss_mb": round(sampler.peak_pss / 2**20),
            "peak_memory_mb_by_process": sampler.peak_rss_mb_by_role(),
            "peak_processes": max((c for _, _, c in sampler.samples), default=1),
            "cpu_seconds": round(cpu_total, 2),
            "cpu_ms_per_1k_rows": round(1e6 * cpu_total / rows, 1),
            "cpu_seconds_by_process": sampler.cpu_by_role(),
            "load_average_start": load_start,
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
            "memory_trace": [(round(s, 2), round(b / 2**20)) for s, b, _ in sampler.samples[::10]],
        }
    )
    return Run(arm, repeat, record)


def summarize(runs: list[Run], labels: list[str]) -> dict:
    """The best run of each arm (shortest pass, or whole gate between modes), and the speed-ups over the first arm."""
    best = {k: min((r for r in runs if r.arm.label == k), key=lambda r: r.seconds).record for k in labels}
    base = best[labels[0]]
    summary: dict = {"best": {k: _without_trace(best[k]) for k in labels}, "speedup": {}}
    for k in labels[1:]:
        b = best[k]
        summary["speedup"][k] = {
            "pass_rows_per_sec": round(b["pass_rows_per_sec"] / base["pass_rows_per_sec"], 2),
            "gate_rows_per_sec": round(b["gate_rows_per_sec"] / base["gate_rows_per_sec"], 2),
            "gate_seconds_ratio": round(b["gate_seconds"] / base["gate_seconds"], 2),
            "cpu_per_row": round(b["cpu_ms_per_1k_rows"] / base["cpu_ms_per_1k_rows"], 2),
            "peak_memory": round(b["peak_memory_mb"] / base["peak_memory_mb"], 2),
            "peak_memory_pss": round(b["peak_memory_pss_mb"] / max(1, base["peak_memory_pss_mb"]), 2),
        }
    if "1" in best and "2" in best:
        s = summary["speedup"].get("2") if labels[0] == "1" else None
        if s:
            summary["target"] = {
                "speedup_2_over_1_pass": s["pass_rows_per_sec"],
                "speedup_met": s["pass_rows_per_sec"] >= TARGET_SPEEDUP,
                "peak_memory_2_over_1": s["peak_memory"],
                "memory_met": s["peak_memory"] <= 1.0,
                "peak_memory_pss_2_over_1": s["peak_memory_pss"],
            }
    return summary


def _without_trace(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "memory_trace"}


# Each column's title, its values' format spec (alignment and width first) and a run's value in it.
_COLUMNS = (
    ("arm", ">16", lambda run: run.arm.label),
    ("run", ">3", lambda run: run.record["repeat"]),
    ("gate s", ">7.1f", lambda run: run.record["gate_seconds"]),
    ("pass s", ">7.1f", lambda run: run.pass_seconds),
    ("fixed s", ">7.1f", lambda run: run.record["fixed_seconds"]),
    ("gate rows/s", ">11,", lambda run: run.record["gate_rows_per_sec"]),
    ("pass rows/s", ">11,", lambda run: run.record["pass_rows_per_sec"]),
    ("CPU s", ">7.1f", lambda run: run.record["cpu_seconds"]),
    ("CPU ms/1k", ">9.1f", lambda run: run.record["cpu_ms_per_1k_rows"]),
    ("peak MB", ">8,", lambda run: run.record["peak_memory_mb"]),
    ("PSS MB", ">7,", lambda run: run.record["peak_memory_pss_mb"]),
    (
        "load start-end",
        ">15",
        lambda run: f"{run.record['load_average_start'][0]:.1f}-{run.record['load_average_end'][0]:.1f}",
    ),
)


def format_table(runs: list[Run]) -> str:
    return "\n".join(reporting.table(_COLUMNS, runs))


def plot(runs: list[Run], summary: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    best = summary["best"]
    labels = [k if not k.isdigit() else f"{k} worker{'s' if k != '1' else ''}" for k in best]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
    panels = [
        ("rows/sec, statistics pass", [b["pass_rows_per_sec"] for b in best.values()]),
        ("rows/sec, whole gate", [b["gate_rows_per_sec"] for b in best.values()]),
        ("CPU ms per 1,000 rows (all processes)", [b["cpu_ms_per_1k_rows"] for b in best.values()]),
    ]
    for ax, (title, values) in zip(axes, panels, strict=False):
        bars = ax.bar(labels, values, color=["#4c72b0", "#dd8452", "#55a868", "#c44e52"][: len(values)])
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values])
        ax.set_title(title, fontsize=10)
    ax = axes[3]
    for run in runs:
        trace = run.record["memory_trace"]
        ax.plot([s for s, _ in trace], [mb for _, mb in trace], label=f"{run.arm.label} run {run.repeat}")
    ax.set(xlabel="seconds", ylabel="MB (process tree)", title="resident memory")
    ax.legend(fontsize=8)
    speedup = summary["speedup"]
    note = ", ".join(
        f"{k}: {s['pass_rows_per_sec']:.2f}x pass, {s['gate_rows_per_sec']:.2f}x gate" for k, s in speedup.items()
    )
    fig.suptitle(f"TFDV statistics, {runs[0].record['rows']:,} rows; {note}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@dataclasses.dataclass(frozen=True)
class Config:
    """What the command's flags ask for (scripts/benchmark_validation.py defines them)."""

    out: str
    main: str  # the command's module: each child is that command again, with --run_one (run_one)
    rows: int = 1_000_000
    shards: int = 8
    format: str = "tfrecord"
    direct_running_mode: str = "multi_processing"
    workers: tuple[str, ...] = ("1", "2")
    modes: tuple[str, ...] = ()
    direct_num_workers: int = 0
    repeats: int = 1
    semantic_domain_stats: bool = True
    command: str = ""  # as the user typed it, recorded in benchmark.json


def arms(cfg: Config) -> list[Arm]:
    """The runner modes (--modes) or worker counts (--workers, --direct_num_workers) compared, in order."""
    if not cfg.modes:
        return [Arm(cfg.direct_running_mode, w, False) for w in worker_counts(cfg)]
    chosen = []
    for mode in cfg.modes:
        if mode not in RUNNING_MODES:
            raise UsageError("modes", f"'{mode}' is not one of {', '.join(RUNNING_MODES)}")
        arm = Arm(mode, 1 if mode == "in_memory" else 0, True)
        if arm not in chosen:
            chosen.append(arm)
    return chosen


def worker_counts(cfg: Config) -> list[int]:
    if cfg.direct_num_workers:
        return [cfg.direct_num_workers]
    counts = []
    for text in cfg.workers:
        try:
            n = int(text)
        except ValueError:
            raise UsageError("workers", f"'{text}' is not a whole number") from None
        if not 1 <= n <= MAX_WORKERS:
            raise UsageError("workers", f"{n} is not between 1 and {MAX_WORKERS}")
        if n not in counts:
            counts.append(n)
    if not counts:
        raise UsageError("workers", "give at least one worker count")
    return counts


def run(cfg: Config) -> None:
    """Every run round-robin, each in its own child; then the table, the speed-ups, benchmark.json and the PNG."""
    out = os.path.abspath(cfg.out)
    chosen = arms(cfg)
    labels = [arm.label for arm in chosen]
    pattern = generate(os.path.join(out, "data"), cfg.rows, cfg.shards, cfg.format)
    child_args = [
        cfg.main,
        f"--run_data={pattern}",
        f"--semantic_domain_stats={cfg.semantic_domain_stats}",
    ]
    plan = [(arm, r) for r in range(1, cfg.repeats + 1) for arm in chosen]
    counter = run_counter(len(plan), what="benchmark run", unit="runs")
    machine = reporting.machine()
    runs = []
    for i, (arm, repeat) in enumerate(plan):
        print(
            f"run {i + 1}/{len(plan)}: {arm.mode}, {arm.workers or 'one per core'} worker(s), repeat {repeat}",
            flush=True,
        )
        runs.append(measure(arm, repeat, out, child_args))
        counter.update(i + 1, f"{arm.label}: {runs[-1].record['gate_seconds']:,.1f} s gate")
    summary = summarize(runs, labels)
    print("\n" + format_table(runs), flush=True)
    _print_speedups(summary, labels)
    record = {
        "command": cfg.command,
        "machine": machine,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "rows": runs[0].record["rows"],
        "features": NUM_FLOAT + NUM_INT + NUM_CAT,
        "format": cfg.format,
        "shards": cfg.shards,
        "runner": "DirectRunner " + (",".join(cfg.modes) or cfg.direct_running_mode),
        "arms": labels,
        "worker_counts": [arm.workers for arm in chosen],
        "repeats": cfg.repeats,
        "target_speedup": TARGET_SPEEDUP,
        **summary,
        "runs": [run.record for run in runs],
    }
    json_path = reporting.write_json(record, os.path.join(out, "benchmark.json"))
    plot(runs, summary, os.path.join(out, "benchmark.png"))
    print(f"wrote {json_path} and benchmark.png", flush=True)


def _print_speedups(summary: dict, labels: list[str]) -> None:
    for k, s in summary["speedup"].items():
        print(
            f"{k + ' workers' if k.isdigit() else k} vs {labels[0]}: whole gate {s['gate_seconds_ratio']:.2f}x the time; {s['pass_rows_per_sec']:.2f}x rows/sec (statistics pass), "
            f"{s['gate_rows_per_sec']:.2f}x (whole gate), CPU per row {s['cpu_per_row']:.2f}x, "
            f"peak memory {s['peak_memory']:.2f}x (RSS), {s['peak_memory_pss']:.2f}x (PSS)",
            flush=True,
        )
