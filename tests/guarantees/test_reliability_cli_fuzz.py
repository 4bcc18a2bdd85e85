"""Hostile flag values for every entry point: each case runs to the end or ends with one `error:` line.

Property-based (hypothesis, derandomized). For each script, the base arguments are a valid, cheap
run, and the base alone must exit 0: so a case is the real work with exactly one flag set to a
hostile (or, sometimes, ordinary) value (negative, zero and huge ints; nan and inf floats; empty,
unicode and very long strings; missing files; a regular file used as a directory; unknown enum
values), and whatever it does not refuse it runs through to the end (training, the gate, the push,
the benchmark). All of a script's cases run in one tests/cli_fuzz_harness.py process (TensorFlow is
imported once); `{case}` in an argument is a fresh directory for each case.

A case fails on a traceback, an exit status outside 0-3, a non-zero exit without exactly one
`error:` line, or running past the case timeout (a hang is a failure, not a pass). The flags left
out of a script's draw are listed with it (LONG_RUN): their hostile-but-valid values mean a long
run (a billion steps, a wait of days), which is what they ask for. scripts.serve is the one entry
point not drawn here: a server runs until stopped, so a case would never end; its bad flags and bad
requests are tests/e2e/test_serve.py's.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import REPO_ROOT
from validation_spans import write_csv, write_image_folder

pytestmark = pytest.mark.enormous

HARNESS = str(REPO_ROOT / "tests" / "cli_fuzz_harness.py")
# 0 ran, 1 a run that could not finish, 2 a usage error, 3 data refused by the gate (train, retrain, validate_data).
DOCUMENTED_EXIT_CODES = {0, 1, 2, 3}
CASE_TIMEOUT_SECS = 150

# Flags whose valid values may ask for a long run; they are refused when out of range by their own tests.
TRAINING_LONG_RUN = frozenset(
    {"train_steps", "eval_steps", "eval_throttle_secs", "eval_start_delay_secs", "fine_tune_steps", "download"}
)


class Harness:
    """One cli_fuzz_harness.py process for one script: send argv lists, read result dicts."""

    def __init__(self, module: str, cwd: Path):
        # cwd is a scratch directory: fuzzed relative paths (--model_dir=",") land there, not in the repo.
        env = {**os.environ, "KESTREL_FUZZ_CASE_TIMEOUT": str(CASE_TIMEOUT_SECS)}
        self.proc = subprocess.Popen(
            [sys.executable, HARNESS, module],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=env,
        )
        self.flags = {f["name"]: f for f in json.loads(self.proc.stdout.readline())["flags"]}

    def run(self, args: list[str]) -> dict:
        self.proc.stdin.write(json.dumps(args) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"harness died on {args}"
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def hostile_values(flag: dict, paths: dict) -> st.SearchStrategy[str]:
    """One hostile (or, sometimes, ordinary) argument for ``flag``."""
    name, kind = flag["name"], flag["type"]
    if kind == "bool":
        return st.sampled_from([f"--{name}", f"--no{name}", f"--{name}=maybe"])
    if kind == "int":
        values = st.sampled_from(["-1", "0", "1", "-9223372036854775809", str(10**30), "1.5", "abc", ""])
    elif kind == "float":
        values = st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e308", "-1e-320", "x", ""])
    elif kind == "enum":
        values = st.sampled_from(["bogus", "", "ÜNÏ", *flag["enum_values"]])
    else:  # string, list, multi_string
        fixed = ["", "x" * 5000, "ünïcödé✓", paths["missing"], paths["file_as_dir"], paths["file"], ",,", "-1"]
        values = st.one_of(
            st.sampled_from(fixed),
            st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20),
        )
    return values.map(lambda v: f"--{name}={v}")


@dataclasses.dataclass(frozen=True)
class Entry:
    module: str
    cases: int
    skip: frozenset[str] = frozenset()  # flags not drawn: long runs, or what the base itself must set


class CaseDirs:
    """`{case}` in the base arguments becomes a fresh directory per case (a run's outputs are its own)."""

    def __init__(self, root: Path):
        self.root, self.count = root, 0

    def expand(self, args: list[str]) -> list[str]:
        self.count += 1
        case = self.root / f"case-{self.count}"
        return [a.replace("{case}", str(case)) for a in args]


def check(module: str, args: list[str], result: dict) -> None:
    said = "\n".join(line[:300] for line in result["stderr_lines"][-40:])
    args = [a if len(a) < 120 else f"{a[:60]}...({len(a)} chars)" for a in args]
    assert not result["timeout"], f"{module} {args}: still running after {CASE_TIMEOUT_SECS} s (a hang)"
    assert not result["traceback"], f"{module} {args}:\n{said}"
    assert result["exit_code"] in DOCUMENTED_EXIT_CODES, f"{module} {args}: exit {result['exit_code']}\n{said}"
    if result["exit_code"] != 0:
        errors = [line for line in result["stderr_lines"] if line.startswith("error: ")]
        assert len(errors) == 1, f"{module} {args}: {len(errors)} error lines\n{said}"


def fuzz(entry: Entry, base: list[str], tmp_path: Path) -> dict[int, int]:
    """Run the base (must exit 0), then ``entry.cases`` cases of one hostile flag each; returns exit counts."""
    regular = tmp_path / "regular_file"
    regular.write_text("not a directory\n")
    paths = {"missing": str(tmp_path / "does" / "not" / "exist"), "file_as_dir": str(regular / "sub")}
    paths["file"] = str(regular)
    scratch = tmp_path / "cwd"
    scratch.mkdir(exist_ok=True)
    dirs = CaseDirs(tmp_path / "cases")
    harness = Harness(entry.module, scratch)
    names = sorted(n for n in harness.flags if n not in entry.skip)
    seen: list[dict] = []
    # A relative path must land in the case's cwd: never in the repository (child processes run from there).
    repo_before = _visible(REPO_ROOT)
    try:
        first = harness.run(dirs.expand(base))
        assert first["exit_code"] == 0, f"the base run fails: {base}\n" + "\n".join(first["stderr_lines"][-40:])

        @settings(
            max_examples=entry.cases,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data())
        def case(data) -> None:
            name = data.draw(st.sampled_from(names))
            args = [*dirs.expand(base), data.draw(hostile_values(harness.flags[name], paths))]
            result = harness.run(args)
            seen.append(result)
            check(entry.module, args, result)

        case()
    finally:
        harness.close()
    assert _visible(REPO_ROOT) <= repo_before, f"{entry.module} wrote into the repository"
    counts = {code: sum(r["exit_code"] == code for r in seen) for code in sorted({r["exit_code"] for r in seen})}
    print(f"{entry.module}: {len(seen)} cases on a valid base, exit codes {counts}")
    assert counts.get(2), f"{entry.module}: no hostile value was refused"
    return counts


def _visible(folder: Path) -> set[str]:
    # Hidden entries are the tools' caches (.hypothesis, .pytest_cache), not a case's outputs.
    return {name for name in os.listdir(folder) if not name.startswith(".")}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Small valid inputs the bases read: a CSV, image folders (spans, a holdout) and one PNG."""
    root = tmp_path_factory.mktemp("fuzz_inputs")
    rows = [{"x": i % 7 / 7.0, "y": float(i % 3), "label": i % 2} for i in range(60)]
    spans = root / "spans"
    write_image_folder(spans / "span-1", per_class=24)
    return {
        "csv": write_csv(root / "data.csv", rows),
        "spans": spans,
        "holdout": write_image_folder(root / "holdout", per_class=10),
        "image": next((root / "holdout" / "cat").iterdir()),
    }


def test_launch_tpu_vm_flags(tmp_path):
    base = ["--dry_run", "--name=kestrel-fuzz", "--zone=us-central1-a", "--project=p", "--job_dir=gs://b/j"]
    fuzz(Entry("scripts.launch_tpu_vm", 15, frozenset({"dry_run"})), base, tmp_path)


def test_launch_vertex_job_flags(tmp_path):
    base = ["--dry_run", "--display_name=kestrel-fuzz", "--region=us-central1"]
    base += ["--image_uri=example.com/kestrel:latest", "--job_dir=gs://b/j", "--config_out={case}/vertex.json"]
    fuzz(Entry("scripts.launch_vertex_job", 15, frozenset({"dry_run"})), base, tmp_path)


def test_predict_flags(trained_digits, files, tmp_path):
    base = [f"--export_dir={trained_digits.export_path}", f"--images={files['image']}"]
    fuzz(Entry("scripts.predict", 8), base, tmp_path)


def test_validate_data_flags(files, tmp_path):
    base = [f"--data={files['csv']}", "--artifacts_dir={case}", "--direct_running_mode=in_memory"]
    fuzz(Entry("scripts.validate_data", 6, frozenset({"beam_args"})), base, tmp_path)


def test_train_flags(tfds_data_dir, tmp_path):
    base = ["--train_steps=2", "--novalidate_data", "--model_dir={case}", f"--data_dir={tfds_data_dir}"]
    base += ["--eval_throttle_secs=0", "--noreport"]
    counts = fuzz(Entry("scripts.train", 10, TRAINING_LONG_RUN | {"model_dir", "dataset"}), base, tmp_path)
    assert counts.get(0), "no case trained to the end"


def test_retrain_flags(files, tmp_path):
    base = [f"--spans={files['spans']}", f"--holdout={files['holdout']}", "--work_dir={case}/work"]
    base += ["--serving_dir={case}/serving", "--model_name=fuzz", "--train_steps=2", "--image_size=8"]
    base += ["--batch_size=8", "--noreport", "--validation_running_mode=in_memory", "--bless_floor=0"]
    long_run = TRAINING_LONG_RUN | {"every", "lock_timeout_secs"}
    fuzz(Entry("scripts.retrain", 4, long_run | {"spans", "work_dir"}), base, tmp_path)


def test_benchmark_datasets_flags(files, tmp_path):
    base = [f"--image_dir={files['holdout']}", "--image_size=8", "--batch_size=4", "--repeats=1"]
    base += ["--variants=naive", "--epochs=1", "--out_dir={case}"]
    skip = frozenset({"repeats", "epochs", "generate_images", "image_dir", "download", "dataset"})
    fuzz(Entry("scripts.benchmark_datasets", 8, skip), base, tmp_path)


def test_benchmark_validation_flags(tmp_path):
    base = ["--out={case}", "--rows=200", "--shards=1", "--direct_running_mode=in_memory", "--direct_num_workers=1"]
    fuzz(Entry("scripts.benchmark_validation", 3, frozenset({"rows", "shards"})), base, tmp_path)


def test_benchmark_distribution_flags(tfds_data_dir, tmp_path):
    base = ["--output_dir={case}", f"--data_dir={tfds_data_dir}", "--steps=10", "--warmup_steps=1"]
    base += ["--batch_sizes=16", "--strategies=one_device"]
    fuzz(Entry("scripts.benchmark_distribution", 3, frozenset({"steps", "warmup_steps"})), base, tmp_path)


def test_bottleneck_benchmark_flags(tfds_data_dir, tmp_path):
    base = ["--out_dir={case}", f"--data_dir={tfds_data_dir}", "--weights=none", "--epochs=2", "--image_size=32"]
    base += ["--model=mobilenet_v2", "--batch_size=64"]
    skip = frozenset({"epochs", "dataset", "image_size", "pretrain_steps", "pretrain_image_size"})
    fuzz(Entry("scripts.bottleneck_benchmark", 3, skip), base, tmp_path)


def test_benchmark_compute_flags(tfds_data_dir, tmp_path):
    base = ["--out_dir={case}", f"--data_dir={tfds_data_dir}", "--models=small_cnn", "--image_size=8"]
    base += ["--batch_size=4", "--matmul_size=64", "--matmul_repeats=1", "--forward_batches=1"]
    base += ["--train_warmup_steps=1", "--train_steps=2", "--repeats=1"]
    sizes = {"image_size", "batch_size", "matmul_size", "matmul_repeats", "forward_batches", "train_steps"}
    fuzz(Entry("scripts.benchmark_compute", 5, frozenset(sizes | {"train_warmup_steps", "repeats"})), base, tmp_path)


def test_benchmark_suite_flags(tfds_data_dir, tmp_path):
    base = ["--out_dir={case}", f"--data_dir={tfds_data_dir}", "--quick", "--benchmarks=validation"]
    base += ["--validation_rows=200"]
    fuzz(Entry("scripts.benchmark_suite", 3, frozenset({"quick", "benchmarks", "repeats"})), base, tmp_path)
