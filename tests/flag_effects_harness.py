"""Runs scripts.train's absl main many times in one process, for tests/guarantees/test_every_flag.py.

python tests/flag_effects_harness.py

TensorFlow is imported once (as tests/cli_fuzz_harness.py does). The first line on stdout is
``{"flags": {module: [flag, ...]}}``: every flag the scripts.flags modules define. Then each stdin
line is ``{"args": [...], "timeout": secs}``; the args run through ``scripts.cli.run(main)`` with
file descriptors 1 and 2 captured (Python prints, the progress stream bound at import, C++ logs)
and are answered by one JSON line: ``{"exit_code", "stdout", "stderr", "traceback", "timeout",
"seconds"}``. Between cases the process-wide state a run leaves behind is reset: flags, Keras's
dtype policy and session, op determinism.

``Harness`` is the client: it starts the server, sends cases, and restarts the server after a
case that did not answer in time (a hang is reported as ``timeout``, never waited out).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


class CaseTimeout(BaseException):
    """A case ran past its time limit."""


def _on_alarm(signum, frame) -> None:
    raise CaseTimeout()


def script_flags() -> dict[str, list[str]]:
    """Flag names of scripts.train by defining module (the scripts.flags groups), not absl's or TF's."""
    from absl import flags

    return {
        module: sorted(flag.name for flag in module_flags)
        for module, module_flags in flags.FLAGS.flags_by_module_dict().items()
        if module.startswith("scripts.")
    }


def _reset_global_state() -> None:
    import tensorflow as tf
    from absl import flags
    from tensorflow.python.framework import config

    flags.FLAGS.unparse_flags()
    tf.keras.mixed_precision.set_global_policy("float32")
    tf.keras.backend.clear_session()
    if config.is_op_determinism_enabled():
        config.disable_op_determinism()


@contextlib.contextmanager
def _captured_fds():
    """fd 1 and fd 2 go to two temporary files; yields a function returning their text."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    texts: dict[str, str] = {}
    try:
        yield texts
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        for name, f in (("stdout", out), ("stderr", err)):
            f.seek(0)
            texts[name] = f.read().decode("utf-8", "replace")
            f.close()


def run_case(cli, main, args: list[str], timeout_secs: int) -> dict:
    _reset_global_state()
    sys.argv = ["scripts.train", *args]
    exit_code, had_traceback, timed_out, extra = 0, False, False, ""
    start = time.monotonic()
    with _captured_fds() as texts:
        signal.alarm(timeout_secs)
        try:
            cli.run(main)
        except SystemExit as exc:
            code = exc.code
            exit_code = code if isinstance(code, int) else (0 if code is None else 1)
        except CaseTimeout:
            timed_out, exit_code = True, -1
        except BaseException:  # noqa: BLE001 - any other escape is a traceback, reported as such
            had_traceback, exit_code = True, 1
            extra = traceback.format_exc()
        finally:
            signal.alarm(0)
    stderr = texts["stderr"] + extra
    import tensorflow as tf
    from tensorflow.python.framework import config

    return {
        # Process-wide state the run left: what --mixed_precision and --deterministic_ops set.
        "policy": tf.keras.mixed_precision.global_policy().name,
        "op_determinism": config.is_op_determinism_enabled(),
        "exit_code": exit_code,
        "stdout": texts["stdout"],
        "stderr": stderr,
        "traceback": had_traceback or "Traceback (most recent call last)" in stderr,
        "timeout": timed_out,
        "seconds": round(time.monotonic() - start, 2),
    }


def serve() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # nothing but the protocol on the real stdout
    from scripts import cli, train

    signal.signal(signal.SIGALRM, _on_alarm)
    protocol.write(json.dumps({"flags": script_flags()}) + "\n")
    for line in sys.stdin:
        if line.strip():
            case = json.loads(line)
            protocol.write(json.dumps(run_case(cli, train.main, case["args"], case["timeout"])) + "\n")


class Harness:
    """The client: one server process at a time; ``run(args)`` -> the case's result dict."""

    def __init__(self, env: dict[str, str] | None = None):
        self._env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "NO_GCE_CHECK": "true", **(env or {})}
        self._proc: subprocess.Popen | None = None
        self.flags: dict[str, list[str]] = {}

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, __file__],
            cwd=REPO_ROOT,
            env=self._env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self.flags = json.loads(self._readline(120))["flags"]

    def _readline(self, timeout: float) -> str:
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("flag_effects_harness server died")
        return line

    def script_flags(self) -> dict[str, list[str]]:
        if self._proc is None:
            self._start()
        return self.flags

    def run(self, args: list[str], timeout: int = 120) -> dict:
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        self._proc.stdin.write(json.dumps({"args": list(args), "timeout": timeout}) + "\n")
        self._proc.stdin.flush()
        try:
            return json.loads(self._readline(timeout + 30))
        except (TimeoutError, RuntimeError) as err:
            # Hung in C++ (no Python signal handler runs there) or crashed: a fresh server next time.
            self.close()
            hung = isinstance(err, TimeoutError)
            return {"exit_code": -1, "stdout": "", "stderr": str(err), "traceback": not hung, "timeout": hung}

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


if __name__ == "__main__":
    serve()
