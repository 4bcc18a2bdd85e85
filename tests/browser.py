"""Headless Chromium for the tests, driven over the WebDriver protocol with the standard library.

Debian's chromium and chromium-driver are installed by `make browser-setup` (a step of `make test`).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import urllib.request

from support import free_port

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"


def webdriver(port: int, method: str, path: str, payload: dict | None = None) -> dict:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)["value"]


@contextlib.contextmanager
def chromium_session(tmp_path):
    """(chromedriver port, session id) of a headless Chromium; conftest's ``browser`` fixture."""
    # The real browser or nothing: a missing one is a failed set-up, not a reason to skip.
    assert os.path.exists(CHROMEDRIVER) and os.path.exists(CHROMIUM), (
        "run make browser-setup (chromium, chromium-driver)"
    )
    port = free_port()
    driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            webdriver(port, "GET", "/status")
            break
        except OSError:
            assert time.monotonic() < deadline, "chromedriver did not start"
            time.sleep(0.2)
    options = {
        "binary": CHROMIUM,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}"],
    }
    session = webdriver(port, "POST", "/session", {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}})
    try:
        yield port, session["sessionId"]
    finally:
        webdriver(port, "DELETE", f"/session/{session['sessionId']}")
        driver.terminate()
        driver.wait(timeout=30)


def element(port: int, session: str, css: str) -> str:
    found = webdriver(port, "POST", f"/session/{session}/element", {"using": "css selector", "value": css})
    return next(iter(found.values()))
