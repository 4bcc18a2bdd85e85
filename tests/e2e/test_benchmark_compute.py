"""The compute benchmark end to end on tiny sizes: matmul peak, FLOP counts, inference and training FLOP/s.

No timing assertions (a loaded 2-core machine's figures mean nothing here): the script runs every
part (the in-process child, both training loops of benchmarks/training_throughput.py) and writes
well-formed JSON and a PNG with positive figures; the profiler's count agrees with the analytic one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import run_script

pytestmark = pytest.mark.large

TINY = [
    "--models=vgg16",
    "--image_size=32",
    "--batch_size=4",
    "--matmul_size=256",
    "--matmul_repeats=2",
    "--forward_batches=2",
    "--train_warmup_steps=1",
    "--train_steps=2",
    "--repeats=1",
]


def test_compute_benchmark_writes_positive_figures(tfds_data_dir, tmp_path):
    out = tmp_path / "compute"
    result = run_script("scripts.benchmark_compute", f"--out_dir={out}", f"--data_dir={tfds_data_dir}", *TINY)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "COMPUTE_RESULT" not in result.stdout  # the child's data line is read, not shown
    record = json.loads((out / "compute.json").read_text())
    assert Path(record["files"]["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert record["peak"]["flops_per_sec"] > 0 and len(record["peak"]["runs"]) == 2
    flops = record["flops"]["vgg16"]
    # The profiler counts the graph's ops; the analytic count only the convolutions' and Dense's multiply-adds.
    assert flops["inference_per_example"] == pytest.approx(flops["inference_per_example_analytic"], rel=0.02)
    # The gradient graph is counted, not assumed: about 2x forward more (input and filter gradients).
    assert 2.5 < flops["training_over_inference"] < 3.5

    keys = [(r["kind"], r["key"]) for r in record["rows"]]
    assert keys == [
        ("inference", "bare_forward_in_memory"),
        ("inference", "bare_forward"),
        ("inference", "kestrel_extraction"),
        ("training", "tf_function"),
        ("training", "estimator"),
    ]
    for row in record["rows"]:
        assert row["examples_per_sec"] > 0 and row["flops_per_sec"] > 0 and row["fraction_of_peak"] > 0
        per_example = flops[f"{row['kind']}_per_example"]
        assert row["flops_per_sec"] == pytest.approx(row["examples_per_sec"] * per_example)
    assert [(r["kind"], r["kestrel_over_bare"] > 0) for r in record["ratios"]] == [
        ("inference", True),
        ("training", True),
    ]
    assert record["machine"]["load_average"] and record["load_average_before"]
    assert "kestrel / bare" in result.stdout and "of peak" in result.stdout


def test_unknown_model_is_one_line(tmp_path):
    result = run_script("scripts.benchmark_compute", f"--out_dir={tmp_path}", "--models=vgg16,nope")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: --models: unknown model 'nope'; allowed: ")
