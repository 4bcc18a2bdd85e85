"""requirements-py310.lock installs on Python 3.10, the Python of the Cloud TPU VM tpu-vm-tf-2.15.0
runtimes and of Vertex AI's TF 2.15 (cp310) images, and keeps requirements.lock's pins where it can.

pip is asked what it would install for CPython 3.10 on manylinux2014 x86_64 (PyPI, nothing installed):
every pin with a wheel by ``--only-binary=:all:``, and the few pins PyPI has only as source
distributions by downloading those. A pin without a 3.10 wheel, or a source-only pin not named
here, fails. Needs PyPI; skipped, saying so, when it cannot be reached.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from support import REPO_ROOT

pytestmark = pytest.mark.large

LOCK = REPO_ROOT / "requirements.lock"
LOCK_310 = REPO_ROOT / "requirements-py310.lock"
TARGET = ["--python-version", "3.10", "--platform", "manylinux2014_x86_64"]
# On PyPI only as source distributions (no wheel for any Python, or none for these versions):
# pip builds them on the VM. All pure Python but pyfarmhash (C++: the TPU VM setup installs g++).
SOURCE_BUILT = ("crcmod", "dill", "docopt", "google-apitools", "hdfs", "promise", "pyfarmhash", "pyjsparser")
# The pins the project never loosens: the same in both locks.
SAME_PINS = re.compile(r"^(tensorflow|tfx|apache-beam|keras|tf-keras)")


def _pins(path) -> dict[str, str]:
    """name (normalised) -> version, for every ``name==version`` line."""
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name.strip().lower())] = version.strip()
    return pins


def _version(text: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"[.+]", text))


@pytest.fixture(scope="module")
def pypi(tmp_path_factory):
    """Skip, saying so, where pip's index cannot be reached (pip as the machine configures it)."""
    probe = _pip("download", "--no-deps", "--only-binary=:all:", *TARGET, "--dest", str(tmp_path_factory.mktemp("p")),
                 "absl-py==" + _pins(LOCK_310)["absl-py"], timeout=120)  # fmt: skip
    if probe.returncode != 0:
        pytest.skip("the package index is not reachable: the Python 3.10 install cannot be checked here")


def _pip(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "--no-cache-dir"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_310_lock_keeps_the_pins_it_can():
    pins, pins_310 = _pins(LOCK), _pins(LOCK_310)
    for name, version in pins.items():
        assert name in pins_310, f"{name} is in requirements.lock, not in requirements-py310.lock"
        if SAME_PINS.match(name):
            assert pins_310[name] == version, (name, version, pins_310[name])
        else:
            assert _version(pins_310[name]) <= _version(version), (name, version, pins_310[name])
    # What 3.10 adds: backports its standard library lacks, and the build tools (pinned, not left to pip).
    added = {"async-timeout", "exceptiongroup", "tomli", "importlib-resources", "setuptools", "wheel"}
    assert set(pins_310) - set(pins) <= added, set(pins_310) - set(pins)


def test_every_wheel_of_the_310_lock_exists_for_python_310(pypi, tmp_path):
    source = tuple(name.lower() for name in SOURCE_BUILT)
    wheels = tmp_path / "wheels.txt"
    wheels.write_text("".join(f"{n}=={v}\n" for n, v in _pins(LOCK_310).items() if n not in source))
    # --no-deps: the lock is complete (uv resolved it for 3.10); every line is checked as pinned.
    result = _pip(
        "install", "--dry-run", "--ignore-installed", "--no-deps", "--only-binary=:all:", *TARGET,
        "--target", str(tmp_path / "target"), "-r", str(wheels),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "Would install" in result.stdout and "tensorflow-2.15.1" in result.stdout


def test_the_source_built_pins_are_source_distributions_on_pypi(pypi, tmp_path):
    pins = _pins(LOCK_310)
    wanted = [f"{name}=={pins[name]}" for name in SOURCE_BUILT]
    result = _pip(
        "download", "--no-deps", "--no-binary=:all:", "--no-build-isolation", "--dest", str(tmp_path), *wanted
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    archives = sorted(path.name for path in tmp_path.iterdir())
    assert len(archives) == len(SOURCE_BUILT) and all(a.endswith((".tar.gz", ".zip")) for a in archives), archives
