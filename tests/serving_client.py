"""A scripts.serve process on loopback for the serving tests, and a plain HTTP client for it."""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import subprocess
import sys
from pathlib import Path

from support import REPO_ROOT, latest_export

MODEL = "digits"


class Server:
    """One ``python -m scripts.serve`` process; its stderr goes to ``log`` (read by the version tests)."""

    def __init__(self, base: Path, args: list[str], log: Path, **popen):
        self.base, self.log = base, log
        with log.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "scripts.serve", "--rest_api_port=0", *args],
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                **popen,
            )
        line = self.proc.stdout.readline()  # the server prints this line once it listens; '' if it died
        if not line.startswith("Exporting HTTP/REST API at:"):
            self.proc.kill()
            raise AssertionError(f"server did not start: {line!r} (exit {self.proc.wait()}): {log.read_text()}")
        self.port = int(line.split(":")[2].split()[0])
        self.url = f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """(status, JSON answer or raw bytes) over a fresh connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body, headers or ({"Content-Type": "application/json"} if body else {}))
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        is_json = "json" in (response.getheader("Content-Type") or "")
        return response.status, json.loads(data) if is_json else data

    def post(self, path: str, payload) -> tuple[int, dict]:
        return self.call("POST", path, json.dumps(payload).encode())

    def serving(self) -> str | None:
        """The version whose state is AVAILABLE (None if none)."""
        code, answer = self.call("GET", f"/v1/models/{MODEL}")
        if code != 200:
            return None
        available = [v["version"] for v in answer["model_version_status"] if v["state"] == "AVAILABLE"]
        return available[0] if available else None

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=60)


def model_base(export_path: str, root: Path, versions: tuple[int, ...] = (1,)) -> Path:
    """A TF Serving base path under ``root`` holding the export as each of ``versions``."""
    base = root / MODEL
    base.mkdir(parents=True)
    for version in versions:
        shutil.copytree(export_path, base / str(version))
    return base


def model_args(base: Path) -> list[str]:
    """The flags that serve ``base`` (a :func:`model_base`) as the one model, :data:`MODEL`."""
    return [f"--model_name={MODEL}", f"--model_base_path={base}"]


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode()}


def served_image_prediction(model_dir: Path, image: bytes, root: Path) -> dict:
    """What scripts.serve answers over REST for one ``image`` (encoded bytes) from the newest serving export
    under ``model_dir``: the one prediction of a 200 answer."""
    base = model_base(latest_export(model_dir), root)
    with Server(base, model_args(base), root / "serve.log") as server:
        code, answer = server.post(f"/v1/models/{MODEL}:predict", {"instances": [{"image_bytes": b64(image)}]})
    assert code == 200, answer
    (prediction,) = answer["predictions"]
    return prediction
