"""The TFDV gate on a Beam runner whose workers are separate processes, as on Dataflow, Flink or Spark.

Beam's Python job service and an external worker pool run on loopback as their own processes;
`scripts.validate_data --beam_args=...` submits the statistics job to them through the
PortableRunner. The statistics must equal the DirectRunner's on the same data.
"""

from __future__ import annotations

import csv
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import REPO_ROOT, free_port, run_script

pytestmark = pytest.mark.large


def _wait_for(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{proc.args} exited with {proc.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")


@pytest.fixture(scope="module")
def portable(tmp_path_factory):
    """A job service and an external worker pool; the workers import kestrel as a staged package would."""
    logs = tmp_path_factory.mktemp("beam_services")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    # The pool starts each worker as `python -c ...`: the venv's interpreter must come first on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    job_port, pool_port = free_port(), free_port()
    commands = {
        "job_service": ["apache_beam.runners.portability.local_job_service_main", f"--port={job_port}"],
        "worker_pool": ["apache_beam.runners.worker.worker_pool_main", f"--service_port={pool_port}"],
    }
    procs = {}
    for name, (module, *args) in commands.items():
        log = (logs / f"{name}.log").open("w")
        procs[name] = subprocess.Popen([sys.executable, "-m", module, *args], env=env, stdout=log, stderr=log)
    try:
        _wait_for(job_port, procs["job_service"])
        _wait_for(pool_port, procs["worker_pool"])
        yield {"job_port": job_port, "pool_port": pool_port, "logs": logs, "procs": procs}
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("portable_data") / "rows.csv"
    rng = random.Random(0)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["x", "n", "colour", "label"])
        for i in range(600):
            writer.writerow([f"{rng.gauss(3, 2):.5f}", rng.randint(0, 9), rng.choice("rgb"), i % 3])
    return path


def _statistics(artifacts: Path):
    from tensorflow_data_validation import load_stats_binary

    stats = load_stats_binary(str(artifacts / "spans" / "span-0" / "statistics.pb"))
    (dataset,) = stats.datasets
    return dataset


def _summary(feature) -> dict:
    kind = feature.WhichOneof("stats")
    stats = getattr(feature, kind)
    common = stats.common_stats
    out = {"kind": kind, "non_missing": common.num_non_missing, "missing": common.num_missing}
    if kind == "num_stats":
        out.update(mean=round(stats.mean, 9), std=round(stats.std_dev, 9), min=stats.min, max=stats.max)
        out.update(zeros=stats.num_zeros)
    else:
        out.update(unique=stats.unique, top={v.value: v.frequency for v in stats.top_values})
    return out


def test_statistics_on_portable_runner_equal_the_direct_runners(portable, data, tmp_path):
    direct = run_script("scripts.validate_data", f"--data={data}", f"--artifacts_dir={tmp_path / 'direct'}")
    assert direct.returncode == 0, direct.stderr[-2000:]
    beam_args = (
        f"--runner=PortableRunner --job_endpoint=localhost:{portable['job_port']} "
        f"--environment_type=EXTERNAL --environment_config=localhost:{portable['pool_port']} "
        # The pool's workers unpickle with Beam's default (dill) and import kestrel by name.
        "--pickle_library=dill"
    )
    remote = run_script(
        "scripts.validate_data",
        f"--data={data}",
        f"--artifacts_dir={tmp_path / 'portable'}",
        f"--beam_args={beam_args}",
    )
    assert remote.returncode == 0, remote.stdout[-2000:] + remote.stderr[-2000:]
    assert "computing statistics on PortableRunner" in remote.stdout + remote.stderr
    # The statistics were computed by a worker process the pool started, not in this one.
    assert "Starting worker with command" in (portable["logs"] / "worker_pool.log").read_text()

    ours, theirs = _statistics(tmp_path / "direct"), _statistics(tmp_path / "portable")
    assert ours.num_examples == theirs.num_examples == 600
    by_name = {f.path.step[0]: _summary(f) for f in ours.features}
    assert by_name == {f.path.step[0]: _summary(f) for f in theirs.features}
    assert set(by_name) == {"x", "n", "colour", "label"}
