"""Hostile flag values for every cheap entry point: each runs or ends with one `error:` line, never a traceback.

Property-based (hypothesis, derandomized): for a script, each case sets a few of its own flags to
hostile values (negative, zero and huge ints; nan and inf floats; empty, unicode and very long
strings; missing files; a regular file used as a directory; unknown enum values) on top of safe,
cheap base flags. All of a script's cases run in one tests/cli_fuzz_harness.py process (TensorFlow
is imported once). Exit status 2 is a usage error, 1 a runtime error (storage, a failed job); both
must be one `error:` line.

Not driven (each valid run takes minutes, and their flags are checked by their own tests):
benchmark_datasets, benchmark_validation, benchmark_distribution, benchmark_suite,
bottleneck_benchmark.
"""

# bazel: size = "large"

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO_ROOT = Path(__file__).resolve().parents[1]
HARNESS = str(REPO_ROOT / "tests" / "cli_fuzz_harness.py")
DOCUMENTED_EXIT_CODES = {0, 1, 2}


class Harness:
    """One cli_fuzz_harness.py process for one script: send argv lists, read result dicts."""

    def __init__(self, module: str, cwd: Path):
        # cwd is a scratch directory: fuzzed relative paths (--model_dir=",") land there, not in the repo.
        self.proc = subprocess.Popen(
            [sys.executable, HARNESS, module],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
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


def hostile_values(flag: dict, paths: dict) -> st.SearchStrategy[list[str]]:
    """Arguments setting ``flag`` to a hostile (or, sometimes, ordinary) value."""
    name, kind = flag["name"], flag["type"]
    if kind == "bool":
        return st.sampled_from([[f"--{name}"], [f"--no{name}"], [f"--{name}=maybe"]])
    if kind == "int":
        values = st.sampled_from(["-1", "0", "1", "-9223372036854775809", str(10**30), "1.5", "abc", ""])
    elif kind == "float":
        values = st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e308", "-1e-320", "x", ""])
    elif kind == "enum":
        values = st.sampled_from(["bogus", "", "ÜNÏ", *flag["enum_values"]])
    else:  # string, list, multi_string
        values = st.one_of(
            st.sampled_from(
                [
                    "",
                    "x" * 5000,
                    "ünïcödé✓",
                    paths["missing"],
                    paths["file_as_dir"],
                    paths["file"],
                    ",,",
                    "-1",
                ]
            ),
            st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20),
        )
    return values.map(lambda v: [f"--{name}={v}"])


def fuzz(module: str, base: list[str], cases: int, tmp_path: Path, skip: frozenset[str] = frozenset()) -> None:
    regular = tmp_path / "regular_file"
    regular.write_text("not a directory\n")
    paths = {
        "missing": str(tmp_path / "does" / "not" / "exist"),
        "file_as_dir": str(regular / "sub"),
        "file": str(regular),
    }
    scratch = tmp_path / "cwd"
    scratch.mkdir(exist_ok=True)
    harness = Harness(module, scratch)
    names = sorted(n for n in harness.flags if n not in skip)
    seen: list[tuple[list[str], dict]] = []

    @settings(
        max_examples=cases,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def case(data) -> None:
        chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
        args = list(base)
        for name in chosen:
            args += data.draw(hostile_values(harness.flags[name], paths))
        result = harness.run(args)
        seen.append((args, result))
        assert not result["traceback"], f"{module} {args}:\n" + "\n".join(result["stderr_lines"])
        assert result["exit_code"] in DOCUMENTED_EXIT_CODES, (args, result)
        if result["exit_code"] != 0:
            errors = [line for line in result["stderr_lines"] if line.startswith("error: ")]
            assert len(errors) == 1, (args, result["stderr_lines"])

    try:
        case()
    finally:
        harness.close()
    counts = {code: sum(r["exit_code"] == code for _, r in seen) for code in sorted({r["exit_code"] for _, r in seen})}
    print(f"{module}: {len(seen)} cases, exit codes {counts}")
    # The hostile values must actually be refused somewhere, not all silently accepted.
    assert any(r["exit_code"] == 2 for _, r in seen)


def test_launch_tpu_vm_flags(tmp_path):
    base = ["--dry_run", "--name=kestrel-fuzz", "--zone=us-central1-a", "--project=p", "--job_dir=gs://b/j"]
    fuzz("scripts.launch_tpu_vm", base, 25, tmp_path, skip=frozenset({"dry_run"}))


def test_launch_vertex_job_flags(tmp_path):
    base = [
        "--dry_run",
        "--display_name=kestrel-fuzz",
        "--region=us-central1",
        "--image_uri=example.com/kestrel:latest",
        "--job_dir=gs://b/j",
        f"--config_out={tmp_path / 'vertex.json'}",
    ]
    fuzz("scripts.launch_vertex_job", base, 25, tmp_path, skip=frozenset({"dry_run"}))


def test_predict_flags(tmp_path):
    image = tmp_path / "x.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    fuzz("scripts.predict", [f"--export_dir={tmp_path / 'no_export'}", f"--images={image}"], 20, tmp_path)


def test_validate_data_flags(tmp_path):
    base = [f"--data={tmp_path / 'none' / '*.tfrecord'}", f"--artifacts_dir={tmp_path / 'artifacts'}"]
    fuzz("scripts.validate_data", base, 20, tmp_path, skip=frozenset({"beam_args"}))


# Flags whose hostile-but-valid values mean a long run (huge step counts, waits) rather than an error.
_LONG_RUN_FLAGS = frozenset(
    {"train_steps", "eval_steps", "eval_throttle_secs", "eval_start_delay_secs", "download", "dataset"}
)


@pytest.mark.parametrize("module", ["scripts.train", "scripts.retrain"])
def test_train_flags(module, tfds_data_dir, tmp_path):
    base = [
        "--train_steps=1",
        "--novalidate_data",
        f"--model_dir={tmp_path / 'model'}",
        f"--data_dir={tfds_data_dir}",
    ]
    fuzz(module, base, 8, tmp_path, skip=_LONG_RUN_FLAGS | {"model_dir", "validate_data"})
