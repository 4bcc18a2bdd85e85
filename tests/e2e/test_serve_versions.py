"""A broken newest version, at start-up and after a push: the previous good one keeps serving, the
failure is logged once with its reason (not retried every poll), and the model's status shows it."""

from __future__ import annotations

import os
import shutil
import time

import pytest
from serving_client import MODEL, Server, b64, model_base

pytestmark = pytest.mark.large

POLL = "--file_system_poll_wait_seconds=0.1"


def _break(base, version: int, good) -> None:
    """A version folder whose saved_model.pb is garbage, pushed as push.py does (copy, then rename)."""
    staging = base / f".incoming-{version}"
    shutil.copytree(good, staging)
    (staging / "saved_model.pb").write_bytes(b"not a SavedModel")
    os.rename(staging, base / str(version))


def _states(server: Server) -> list[tuple[str, str, str]]:
    rows = server.call("GET", f"/v1/models/{MODEL}")[1]["model_version_status"]
    return [(r["version"], r["state"], r["status"]["error_code"]) for r in rows]


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + 120  # a bound for a slow machine, not a speed requirement
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.fixture
def served(trained_digits, tmp_path):
    base = model_base(trained_digits.export_path, tmp_path)
    _break(base, 2, base / "1")
    server = Server(base, [f"--model_name={MODEL}", f"--model_base_path={base}", POLL], tmp_path / "stderr.log")
    yield server
    server.stop()


def test_a_broken_newest_version_keeps_the_good_one_serving(served, trained_digits):
    assert served.serving() == "1"
    assert _states(served) == [("2", "END", "UNKNOWN"), ("1", "AVAILABLE", "OK")]
    status = served.call("GET", f"/v1/models/{MODEL}/versions/2")[1]["model_version_status"][0]["status"]
    assert status["error_message"] and status["error_message"] in served.log.read_text()  # the reason, as logged
    assert served.post(f"/v1/models/{MODEL}/versions/2:predict", {"instances": [b64(b"x")]})[0] == 404

    _break(served.base, 3, served.base / "1")  # a broken push while serving
    _wait(lambda: ("3", "END", "UNKNOWN") in _states(served), "the broken push was never tried")
    time.sleep(1.0)  # ten more polls: none may try (and log) the broken versions again
    assert served.serving() == "1"
    log = served.log.read_text()
    assert log.count("version 2 failed to load") == 1, log
    assert log.count("version 3 failed to load") == 1, log
    assert "kept version 1" in log

    shutil.copytree(trained_digits.export_path, served.base / ".incoming-4")
    os.rename(served.base / ".incoming-4", served.base / "4")  # a good push after the broken ones
    _wait(lambda: served.serving() == "4", "the good push was never served")
    assert _states(served)[:2] == [("4", "AVAILABLE", "OK"), ("3", "END", "UNKNOWN")]
