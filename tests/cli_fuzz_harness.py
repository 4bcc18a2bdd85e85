"""Runs one script's absl main many times in one process, for tests/guarantees/test_reliability_cli_fuzz.py.

python tests/cli_fuzz_harness.py scripts.train

Importing TensorFlow takes seconds, so the script module is imported once. The first line on
stdout describes the script's flags (name, type, enum values) as JSON. Then each stdin line is a
JSON list of command-line arguments (without the program name); each is run through
``scripts.cli.run(main)`` itself (absl's ``app.run`` re-parses flags on a rerun) and answered by
one JSON line: ``{"exit_code", "stderr_lines", "traceback", "timeout"}``. An exception other than
SystemExit escaping ``cli.run`` is a traceback. Anything the script prints goes to stderr, so
stdout carries only these JSON lines.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import signal
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class CaseTimeout(BaseException):
    """A case ran past its time limit: it was running, not failing; reported as a timeout."""


def _on_alarm(signum, frame) -> None:
    raise CaseTimeout()


def describe_flags(module_name: str) -> list[dict]:
    """The flags the script defines (itself or through scripts.flags), not absl's or TF's."""
    from absl import flags

    described = []
    for module, module_flags in flags.FLAGS.flags_by_module_dict().items():
        if not (module.startswith("scripts.") or module in (module_name, "__main__")):
            continue
        for flag in module_flags:
            enum_values = getattr(flag.parser, "enum_values", None)
            described.append({"name": flag.name, "type": flag.flag_type(), "enum_values": list(enum_values or [])})
    return sorted(described, key=lambda d: d["name"])


def run_case(cli, main, args: list[str], timeout_secs: int) -> dict:
    from absl import flags

    flags.FLAGS.unparse_flags()
    sys.argv = ["kestrel-fuzz", *args]
    err, out = io.StringIO(), io.StringIO()
    exit_code, had_traceback, timed_out = 0, False, False
    signal.alarm(timeout_secs)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            cli.run(main)
    except SystemExit as exc:
        code = exc.code
        exit_code = code if isinstance(code, int) else (0 if code is None else 1)
    except CaseTimeout:
        timed_out = True
    except BaseException:  # noqa: BLE001 - any other escape is the traceback under test
        had_traceback = True
        err.write(traceback.format_exc())
        exit_code = 1
    finally:
        signal.alarm(0)
    stderr = err.getvalue()
    had_traceback = had_traceback or "Traceback (most recent call last)" in stderr
    return {
        "exit_code": exit_code,
        "stderr_lines": stderr.splitlines(),
        "traceback": had_traceback,
        "timeout": timed_out,
    }


def main() -> None:
    module_name = sys.argv[1]
    timeout_secs = int(os.environ.get("KESTREL_FUZZ_CASE_TIMEOUT", "120"))
    # Our protocol owns fd 1; anything else written to stdout (C++ or Python) goes to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    from scripts import cli

    script = importlib.import_module(module_name)
    signal.signal(signal.SIGALRM, _on_alarm)
    protocol.write(json.dumps({"flags": describe_flags(module_name)}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        result = run_case(cli, script.main, json.loads(line), timeout_secs)
        protocol.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
