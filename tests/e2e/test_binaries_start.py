"""Every entry point starts through the py_binary launcher Bazel built, and prints its own flags.

The launcher check runs under Bazel only (``make bazel-check``): the launcher is in this test's
runfiles, so a binary whose BUILD target misses a dependency fails there. Plain pytest passes over
it, since the fuzz test there already starts every script with valid arguments; the list check runs
under both, so a new script that is missing here fails the ordinary test run first.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from support import REPO_ROOT

pytestmark = pytest.mark.medium

# Named in full so tools/gen_build.py gives the Bazel test each binary as data.
ENTRY_POINTS = (
    "scripts.benchmark_compute",
    "scripts.benchmark_datasets",
    "scripts.benchmark_distribution",
    "scripts.benchmark_suite",
    "scripts.benchmark_validation",
    "scripts.bottleneck_benchmark",
    "scripts.compare_backbones",
    "scripts.launch_tpu_vm",
    "scripts.launch_vertex_job",
    "scripts.predict",
    "scripts.retrain",
    "scripts.serve",
    "scripts.train",
    "scripts.validate_data",
)


def test_the_list_names_every_script_with_a_main():
    scripts = {
        f"scripts.{p.stem}"
        for p in (REPO_ROOT / "scripts").glob("*.py")
        if 'if __name__ == "__main__":' in p.read_text()
    }
    assert scripts == set(ENTRY_POINTS)


@pytest.mark.skipif("TEST_SRCDIR" not in os.environ, reason="Bazel's launcher check: make bazel-check runs it")
@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_entry_point_starts(module):
    # conftest's REPO_ROOT resolves the runfiles' symlinks to the source tree; the launchers live in the runfiles.
    runfiles = Path(os.environ["TEST_SRCDIR"]) / os.environ.get("TEST_WORKSPACE", "kestrel")
    launcher = runfiles / module.replace(".", "/")
    assert launcher.is_file(), f"no py_binary launcher for {module} in the runfiles"
    proc = subprocess.run([str(launcher), "--helpshort"], cwd=runfiles, capture_output=True, text=True, timeout=300)
    # absl prints the help and exits 1 for --helpshort.
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    # The script's own flags, listed under its file: its flag modules were found and imported.
    assert f"{module.split('.')[1]}.py:" in proc.stdout, proc.stdout[-2000:]
    assert any(line.strip().startswith("--") for line in proc.stdout.splitlines()), proc.stdout[-2000:]
