"""Every `python -m scripts.<x> ...` command in README.md and docs/*.md works as written.

Commands come from fenced code blocks (not ```python/```json ones), indented code blocks and
inline code spans. Each is parsed against its script's flags in one subprocess per script
(tests/doc_flags_harness.py: absl types, bounds and validators, the records' checks), the way
tensorflow/models checks its experiment configs: an unknown flag or a bad value in a doc fails
here. Launcher dry runs also run for real, and so does the README's saved_model_cli example on a
real export. A `$ command` followed by an `error: ...` line documents a usage error: if it fails
at parse time, it must fail with that line. Placeholders (`<version>`, `$TFDS`) become tmp paths;
a bare `...` ("and the rest") is dropped.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from support import REPO_ROOT, run_script

pytestmark = pytest.mark.large

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
CONFIGS = sorted((REPO_ROOT / "configs").glob("*.flags"))
HARNESS = str(REPO_ROOT / "tests" / "doc_flags_harness.py")
_COMMAND = re.compile(r"python3? -m (scripts\.\w+)(.*)")
_INLINE = re.compile(r"`([^`]*python3? -m scripts\.[^`]*)`")
_PLACEHOLDER = re.compile(r"<[^<>\n]+>|\$\{?[A-Z_]+\}?")
_SKIPPED_LANGUAGES = ("python", "json")
PLACEHOLDER_DIR = "/tmp/kestrel-docs-placeholder"


@dataclasses.dataclass(frozen=True)
class DocCommand:
    where: str  # file:line
    module: str
    args: tuple[str, ...]
    expected_error: str | None = None  # the `error:` line the doc shows after it


def _logical_lines(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Lines joined across trailing backslashes, each with the number of its first line."""
    joined: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, text in lines:
        start, head = pending or (number, "")
        if text.rstrip().endswith("\\"):
            pending = (start, head + text.rstrip()[:-1] + " ")
            continue
        joined.append((start, head + text))
        pending = None
    return joined


def _code_lines(path: Path) -> tuple[list[list[tuple[int, str]]], list[tuple[int, str]]]:
    """The doc's code blocks (fenced and indented, as lists of numbered lines) and its prose lines."""
    blocks: list[list[tuple[int, str]]] = []
    prose: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.lstrip().startswith("```"):
            if fence is None:
                fence = line.lstrip()[3:].strip()
                blocks.append([])
            else:
                fence = None
            continue
        if fence is not None:
            if fence not in _SKIPPED_LANGUAGES:
                blocks[-1].append((number, line))
        elif line.startswith("    ") and (_COMMAND.search(line) or line.lstrip().startswith("--")):
            blocks.append([(number, line)]) if not blocks or blocks[-1][-1][0] != number - 1 else blocks[-1].append(
                (number, line)
            )
        else:
            prose.append((number, line))
    return blocks, prose


def _paragraphs(prose: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Prose lines joined into paragraphs (an inline code span may wrap), each with its first line's number."""
    paragraphs: list[tuple[int, str]] = []
    previous = None
    for number, text in prose:
        if text.strip() and previous == number - 1 and paragraphs:
            paragraphs[-1] = (paragraphs[-1][0], f"{paragraphs[-1][1]} {text.strip()}")
        elif text.strip():
            paragraphs.append((number, text.strip()))
        previous = number if text.strip() else None
    return paragraphs


def _tokens(rest: str) -> tuple[str, ...]:
    """The arguments up to the end of the shell command (a pipe, `&&`, `&`, `;`, a redirection, a comment)."""
    lexer = shlex.shlex(_PLACEHOLDER.sub(PLACEHOLDER_DIR, rest), posix=True, punctuation_chars=";&|>")
    lexer.whitespace_split = True
    args: list[str] = []
    for token in lexer:
        if set(token) <= set(";&|>"):
            if token.startswith(">") and args and args[-1].isdigit():
                args.pop()  # the 2 of 2>&1
            break
        if token != "...":
            args.append(token)
    return tuple(args)


def _command(where: str, text: str, expected_error: str | None = None) -> DocCommand | None:
    match = _COMMAND.search(text)
    return match and DocCommand(where, match.group(1), _tokens(match.group(2)), expected_error)


def _with_train_args(commands: list[DocCommand]) -> list[DocCommand]:
    """Each launcher's --train_args also as the scripts.train command it becomes on the cloud."""
    found = list(commands)
    for command in commands:
        for arg in command.args:
            if arg.startswith("--train_args="):
                args = tuple(shlex.split(arg.removeprefix("--train_args=")))
                found.append(DocCommand(f"{command.where} (--train_args)", "scripts.train", args))
    return found


def doc_commands() -> list[DocCommand]:
    found: list[DocCommand] = []
    for path in DOCS:
        name = path.relative_to(REPO_ROOT)
        blocks, prose = _code_lines(path)
        for block in blocks:
            lines = _logical_lines(block)
            for index, (number, text) in enumerate(lines):
                following = lines[index + 1][1] if index + 1 < len(lines) else ""
                error = following[len("error: ") :] if following.startswith("error: ") else None
                command = _command(f"{name}:{number}", text.strip().removeprefix("$ "), error)
                found += _with_train_args([command]) if command else []
        for number, text in _paragraphs(prose):
            found += [c for span in _INLINE.findall(text) if (c := _command(f"{name}:{number}", span))]
    return found


def parse_with_harness(commands: list[DocCommand]) -> dict[DocCommand, str | None]:
    """Each command's parse error (None: it parses), one subprocess per script."""
    by_module: dict[str, list[DocCommand]] = defaultdict(list)
    for command in commands:
        by_module[command.module].append(command)
    # Side by side: each waits mostly on its imports.
    running = {
        module: subprocess.Popen(
            [sys.executable, HARNESS, module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO_ROOT,
            text=True,
        )
        for module in sorted(by_module)
    }
    verdicts: dict[DocCommand, str | None] = {}
    for module, process in running.items():
        group = by_module[module]
        stdout, stderr = process.communicate(json.dumps([list(c.args) for c in group]), timeout=300)
        assert process.returncode == 0, f"{module}: {stderr[-2000:]}"
        verdicts |= dict(zip(group, json.loads(stdout.splitlines()[-1]), strict=True))
    return verdicts


CONFIG_COMMANDS = [
    DocCommand(str(path.relative_to(REPO_ROOT)), "scripts.train", (f"--flagfile={path.relative_to(REPO_ROOT)}",))
    for path in CONFIGS
]


@pytest.fixture(scope="module")
def verdicts() -> dict[DocCommand, str | None]:
    return parse_with_harness(doc_commands() + CONFIG_COMMANDS)


def test_the_docs_hold_the_commands_this_test_checks():
    # The extractor itself cannot rot into finding nothing.
    commands = doc_commands()
    where = {c.where.split(":")[0] for c in commands}
    assert len(commands) >= 30 and {"README.md", "docs/distribution.md", "docs/estimators.md"} <= where, commands
    modules = {c.module for c in commands}
    assert {"scripts.train", "scripts.launch_vertex_job", "scripts.launch_tpu_vm", "scripts.validate_data"} <= modules
    assert any(c.expected_error for c in commands)


def test_every_doc_command_parses(verdicts):
    bad = [
        f"{c.where}: python -m {c.module} {shlex.join(c.args)}\n    error: {verdicts[c]}"
        for c in doc_commands()
        if verdicts[c] is not None and c.expected_error is None
    ]
    assert not bad, "\n".join(bad)


def test_documented_usage_errors_say_what_the_doc_says(verdicts):
    for command in (c for c in doc_commands() if c.expected_error):
        # None: the flags parse and the error comes when the run starts (a model_dir check, the network).
        assert verdicts[command] in (None, command.expected_error), command


def test_every_config_flagfile_parses(verdicts):
    assert len(CONFIGS) >= 7, CONFIGS
    bad = [f"{c.where}: {verdicts[c]}" for c in CONFIG_COMMANDS if verdicts[c] is not None]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("command", [c for c in doc_commands() if "--dry_run" in c.args], ids=lambda c: c.where)
def test_doc_dry_runs_run(command):
    result = run_script(command.module, *command.args)
    assert result.returncode == 0, f"{command.where}: {result.stderr}"
    printed = [shlex.split(line[2:]) for line in result.stdout.split("commands:\n", 1)[1].splitlines()]
    assert printed and any(line[0] == "gcloud" for line in printed), result.stdout
    # A Vertex command names its --config file: the dry run wrote it, so the command runs as printed.
    configs = [arg.split("=", 1)[1] for line in printed for arg in line if arg.startswith("--config=")]
    assert all(json.loads(Path(config).read_text())["workerPoolSpecs"] for config in configs), configs


def _saved_model_cli_lines() -> list[str]:
    """The README's lines that make the .npy input and run saved_model_cli."""
    blocks, _ = _code_lines(REPO_ROOT / "README.md")
    block = next(b for b in blocks if any("saved_model_cli run" in text for _, text in b))
    return [text for _, text in _logical_lines(block) if "np.save(" in text or text.startswith("saved_model_cli")]


def test_readme_saved_model_cli_runs_on_a_real_export(trained_digits, tmp_path):
    import numpy as np
    import tensorflow as tf

    lines = _saved_model_cli_lines()
    assert len(lines) == 2, lines
    pixels = np.random.default_rng(0).integers(0, 255, (8, 8, 1), dtype=np.uint8)
    (tmp_path / "digit.png").write_bytes(tf.io.encode_png(pixels).numpy())
    script = "\n".join(lines).replace("runs/digits/export/serving/<version>", shlex.quote(trained_digits.export_path))
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-euc", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "probabilities" in result.stdout and "class_names" in result.stdout, result.stdout


_LINK = re.compile(r"\]\(([^()\s]+)\)")


def _anchor(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    """The anchors of a page's headings (lines starting with # outside fenced code)."""
    anchors, fenced = set(), False
    for line in path.read_text().splitlines():
        fenced ^= line.lstrip().startswith("```")
        if not fenced and line.startswith("#"):
            anchors.add(_anchor(line.lstrip("#")))
    return anchors


def test_the_readme_lists_every_docs_page():
    # The README is the map of docs/: a page it does not list is a page nobody finds.
    readme = (REPO_ROOT / "README.md").read_text()
    missing = [p.name for p in sorted((REPO_ROOT / "docs").glob("*.md")) if f"](docs/{p.name})" not in readme]
    assert not missing, missing


def test_every_relative_link_in_the_docs_reaches_its_file_and_heading():
    broken = []
    for page in DOCS:
        for target in _LINK.findall(page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            file, _, anchor = target.partition("#")
            linked = (page.parent / file).resolve() if file else page
            if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
                broken.append(f"{page.relative_to(REPO_ROOT)}: {target}")
    assert not broken, "\n".join(broken)


_CODE_SPAN = re.compile(r"`([^`\s]+)`")
_TREE_ROOTS = (
    "benchmarks/",
    "common/",
    "configs/",
    "estimators/",
    "input_fns/",
    "pipeline/",
    "scripts/",
    "tests/",
    "tools/",
)


def _names_a_place(token: str) -> bool:
    """A repo path, a module, or an attribute of a module (`pipeline/train._evaluate`) whose file exists."""
    path = token.split("::")[0]
    while path:
        if (REPO_ROOT / path).exists() or (REPO_ROOT / f"{path}.py").exists():
            return True
        path = path.rpartition(".")[0]  # pipeline/retraining/push.ServingDir.push -> ...push.ServingDir -> ...push
    return False


def test_every_path_the_docs_name_in_code_exists():
    # A module moved without its docs is how a reader ends up in a file that is not there.
    stale = []
    for page in DOCS:
        for span in _CODE_SPAN.findall(page.read_text()):
            for token in re.split(r"[,;()]+", span):
                pattern = token.startswith(_TREE_ROOTS) and re.search(r"[*<>{}\[\]$=]", token)
                if token.startswith(_TREE_ROOTS) and not pattern and not _names_a_place(token.rstrip(".:")):
                    stale.append(f"{page.relative_to(REPO_ROOT)}: {token}")
    assert not stale, "\n".join(stale)


def _readme_commands() -> list[tuple[str, str]]:
    """The README's code-block commands that run a kestrel script, in order: (module, the rest as written)."""
    blocks, _ = _code_lines(REPO_ROOT / "README.md")
    found = [_COMMAND.search(text) for block in blocks for _, text in _logical_lines(block)]
    return [(match.group(1), match.group(2)) for match in found if match]


def test_the_readme_opens_with_an_image_folder_and_its_commands_run_as_written(tmp_path):
    # The first two commands a reader meets: train on their own class folders, then predict with the export.
    from validation_spans import write_image_folder

    (train, train_rest), (predict, predict_rest) = _readme_commands()[:2]
    assert train == "scripts.train" and "--source=image_folder --image_dir=flowers " in train_rest, train_rest
    assert predict == "scripts.predict" and "--images=flowers/" in predict_rest, predict_rest
    write_image_folder(tmp_path / "flowers", per_class=4, classes=("daisy", "roses", "tulips"))

    def here(rest: str) -> tuple[str, ...]:  # the README's relative paths, under tmp_path
        return _tokens(rest.replace("=flowers", f"={tmp_path}/flowers").replace("=runs/", f"={tmp_path}/runs/"))

    trained = run_script(train, *here(train_rest), "--train_steps=2")
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert re.search(rf"^data +image_folder {tmp_path}/flowers$", trained.stdout, re.M), trained.stdout
    (version,) = os.listdir(tmp_path / "runs" / "flowers" / "export" / "serving")
    predicted = run_script(predict, *here(predict_rest.replace("<version>", version)))
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    rows = [line.split() for line in predicted.stdout.splitlines()[1:]]
    assert len(rows) == 4 and {row[1] for row in rows} <= {"daisy", "roses", "tulips"}, predicted.stdout
