"""Parses command lines against one script's flags, in one process, for tests/guarantees/test_docs_commands.py.

python tests/doc_flags_harness.py scripts.train < commands.json

stdin: a JSON list of argument lists (without the program name). The script module is imported
once (it defines its flags at import; its ``main`` never runs), then each argument list is parsed
the way ``scripts.cli`` parses it: absl's types, bounds and validators, kestrel's finite/int32 rule,
no stray positional argument, and then the script's getter (the records' own checks) where it has
one (for scripts.train: its Hparams, then the engine's distribution check). stdout: one JSON list, per command ``null`` when it parses or the one error line it would print.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Script -> "module:function" building its records from the parsed flags (TF-free). Not
# scripts.retrain: --list and --show build no config, so its getter would refuse them.
GETTERS = {
    "scripts.train": "scripts.flags.train:checked_hparams",
    "scripts.launch_tpu_vm": "scripts.flags._cloud:tpu_vm_job_from_flags",
    "scripts.launch_vertex_job": "scripts.flags._cloud:vertex_job_from_flags",
}
# Scripts that hand everything after ``--`` to Beam.
PASS_THROUGH = ("scripts.validate_data",)


def check(module_name: str, args: list[str]) -> str | None:
    """The error line ``python -m module_name *args`` would stop with at parse time, or None."""
    from absl import flags

    from common.errors import KestrelError
    from scripts import cli

    if module_name in PASS_THROUGH and "--" in args:
        args = args[: args.index("--")]
    flags.FLAGS.unparse_flags()
    try:
        rest = flags.FLAGS([module_name, *args])
    except flags.Error as err:
        return str(err).splitlines()[0]
    for flag in cli._kestrel_flags():
        problem = cli._out_of_range(flag.value)
        if problem:
            return f"flag --{flag.name}={flag.value}: {problem}"
    if len(rest) > 1:
        return f"unexpected arguments {rest[1:]}"
    getter = GETTERS.get(module_name)
    if getter:
        name, function = getter.split(":")
        try:
            getattr(importlib.import_module(name), function)()
        except KestrelError as err:
            return str(err)
    return None


def main() -> None:
    module_name = sys.argv[1]
    commands = json.load(sys.stdin)
    importlib.import_module(module_name)
    print(json.dumps([check(module_name, args) for args in commands]))


if __name__ == "__main__":
    main()
