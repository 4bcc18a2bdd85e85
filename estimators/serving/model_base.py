"""TF Serving's model base directories: numbered versions, and the ModelServerConfig that names them.

A model base path holds ``<version>/saved_model.pb`` folders (pipeline/retraining/push.py writes
them). As in TF Serving's file-system source, only folders whose names are numbers count:
``.incoming-3-<pid>`` (a push being copied) and ``.rolled_back/`` are never loaded.
"""

from __future__ import annotations

import dataclasses
import os
import re

from common.errors import UsageError

SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """One ``config { ... }`` entry of a ModelServerConfig."""

    name: str
    base_path: str
    model_platform: str = "tensorflow"
    labels: tuple[tuple[str, int], ...] = ()  # version_labels { key: "stable" value: 2 }

    @property
    def version_labels(self) -> dict[str, int]:
        return dict(self.labels)


def versions(base_path: str) -> list[int]:
    """The loadable versions under ``base_path``, oldest first (none if the folder is gone)."""
    try:
        names = os.listdir(base_path)
    except OSError:
        return []
    found = []
    for name in names:
        # str.isdigit admits non-ASCII digits ("²"); TF Serving parses ASCII decimals only.
        if re.fullmatch(r"[0-9]+", name) and _has_saved_model(os.path.join(base_path, name)):
            found.append(int(name))
    return sorted(found)


def _has_saved_model(path: str) -> bool:
    return any(os.path.isfile(os.path.join(path, f)) for f in SAVED_MODEL_FILES)


# The text-format tokens a ModelServerConfig uses: comments, strings, braces, colons, words.
_TOKEN = re.compile(r'\s+|#[^\n]*|"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[{}:]|[A-Za-z0-9_.\-/]+')
_FIELDS = ("name", "base_path", "model_platform", "version_labels")


def _tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise UsageError("model_config_file", f"unexpected text at character {pos}: {text[pos : pos + 20]!r}")
        token = match.group()
        if not token.isspace() and not token.startswith("#"):
            tokens.append(token)
        pos = match.end()
    return tokens


class _Reader:
    """A cursor over the tokens, with the grammar's few expectations."""

    def __init__(self, tokens: list[str]):
        self.tokens, self.pos = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            want = f"'{expected}'" if expected else "more text"
            raise UsageError("model_config_file", f"expected {want}, found {token or 'the end of the file'!r}")
        self.pos += 1
        return token

    def open_message(self, field: str) -> None:
        self.take(field)
        if self.peek() == ":":  # text format allows "field: {" as well as "field {"
            self.take(":")
        self.take("{")


def _unquote(token: str) -> str:
    if token[:1] not in "\"'":
        raise UsageError("model_config_file", f"expected a quoted string, found {token!r}")
    return token[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")


def _version_label(reader: _Reader) -> tuple[str, int]:
    """``version_labels { key: "stable" value: 2 }`` (a map entry of ModelConfig)."""
    reader.open_message("version_labels")
    entry: dict[str, str] = {}
    while reader.peek() != "}":
        field = reader.take()
        reader.take(":")
        entry[field] = reader.take()
    reader.take("}")
    if set(entry) != {"key", "value"} or not re.fullmatch(r"[0-9]{1,18}", entry["value"]):
        raise UsageError("model_config_file", 'a version_labels entry needs key: "<label>" and value: <version>')
    return _unquote(entry["key"]), int(entry["value"])


def _config(reader: _Reader) -> ModelConfig:
    reader.open_message("config")
    values: dict[str, str] = {}
    labels: list[tuple[str, int]] = []
    while reader.peek() != "}":
        if reader.peek() == "version_labels":
            labels.append(_version_label(reader))
            continue
        field = reader.take()
        reader.take(":")
        value = reader.take()
        if field not in _FIELDS:
            raise UsageError("model_config_file", f"unsupported field '{field}'; allowed: {', '.join(_FIELDS)}")
        values[field] = value if field == "model_platform" and value[:1] not in "\"'" else _unquote(value)
    reader.take("}")
    for field in ("name", "base_path"):
        if not values.get(field):
            raise UsageError("model_config_file", f"a config has no {field}")
    return ModelConfig(**values, labels=tuple(labels))


def parse_model_config(text: str) -> list[ModelConfig]:
    """``model_config_list { config { name: "..." base_path: "..." model_platform: "tensorflow" } ... }``."""
    reader = _Reader(_tokens(text))
    reader.open_message("model_config_list")
    configs = []
    while reader.peek() != "}":
        configs.append(_config(reader))
    reader.take("}")
    if reader.peek() is not None:
        raise UsageError("model_config_file", f"unexpected {reader.peek()!r} after model_config_list")
    if not configs:
        raise UsageError("model_config_file", "model_config_list names no model")
    for config in configs:
        if config.model_platform != "tensorflow":
            raise UsageError("model_config_file", f"model_platform '{config.model_platform}'; allowed: tensorflow")
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise UsageError("model_config_file", f"a model name appears twice in {names}")
    return configs
