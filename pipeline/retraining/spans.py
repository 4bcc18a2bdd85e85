"""Spans: the dated or numbered slices in which one dataset's data arrives.

A span source is either a directory whose children are span folders
(``/data/digits/span-3``, ``/data/digits/2026-11-23``) or a pattern with a
``{SPAN}`` placeholder (``/data/digits/{SPAN}/*.tfrecord``,
``/data/digits/part-{SPAN}.csv``), as TFX's ExampleGen spells it. Span names
are numbers (with an optional ``span-``/``span_`` prefix) or dates
(``YYYY-MM-DD`` or ``YYYYMMDD``); spans order by that value, never by mtime,
so a late-copied old span cannot pass for the newest.
"""

from __future__ import annotations

import dataclasses
import datetime
import glob
import hashlib
import os
import re

from common.errors import UsageError
from common.files import hash_contents, judge, list_files

SPAN_PLACEHOLDER = "{SPAN}"
_NUMBER = re.compile(r"^(?:span[-_]?)?(\d+)$", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
# Files a fingerprint ignores: editors' and OS droppings, our own in-progress markers.
_IGNORED = re.compile(r"(^\.|~$|\.tmp$|\.partial$)")


@dataclasses.dataclass(frozen=True, order=True)
class Span:
    """One span: its sort key, its name as written, and the root its files sit under."""

    key: tuple[int, ...]
    name: str
    path: str  # the span folder, or for a file pattern the pattern with {SPAN} filled in

    def files(self) -> list[str]:
        """Every data file of the span, sorted, as absolute paths."""
        if os.path.isdir(self.path):
            # Regular files only (common/files.py): a FIFO is never opened, a name that is not
            # UTF-8 never reaches TensorFlow; the gate and the trainer name what is skipped.
            listing = list_files(self.path)
            return [p for p in listing.files if not any(map(_IGNORED.search, os.path.relpath(p, self.path).split("/")))]
        return sorted(p for p in glob.glob(self.path) if judge(p) is None)


def span_key(name: str) -> tuple[int, ...] | None:
    """The ordering value of a span name, or None when the name is not a span's."""
    date = _DATE.match(name)
    if date:
        try:
            day = datetime.date(*(int(part) for part in date.groups()))
        except ValueError:
            return None
        # Dates and numbers never mix in one source; tag them so they cannot compare equal.
        return (1, day.toordinal())
    number = _NUMBER.match(name)
    if number:
        return (0, int(number.group(1)))
    return None


def discover(source: str) -> list[Span]:
    """All spans of ``source`` (a directory of span folders, or a ``{SPAN}`` pattern), oldest first."""
    if SPAN_PLACEHOLDER in source:
        spans = _discover_pattern(source)
    elif os.path.isdir(source):
        spans = [
            Span(key, name, os.path.join(source, name))
            for name in os.listdir(source)
            if os.path.isdir(os.path.join(source, name)) and (key := span_key(name)) is not None
        ]
    else:
        raise UsageError(
            "spans", f"'{source}' is neither a directory of span folders nor a pattern with {SPAN_PLACEHOLDER}"
        )
    kinds = {span.key[0] for span in spans}
    if len(kinds) > 1:
        raise UsageError("spans", f"'{source}' mixes dated and numbered spans; keep one kind per source")
    return sorted(spans)


def _discover_pattern(pattern: str) -> list[Span]:
    head, _, tail = pattern.partition(SPAN_PLACEHOLDER)
    if SPAN_PLACEHOLDER in tail:
        raise UsageError("spans", f"'{pattern}' has {SPAN_PLACEHOLDER} more than once")
    # The span is one path component (or part of one): match it with [^/]+ between the escaped sides.
    regex = re.compile(
        "^" + _glob_to_regex(head) + r"(?P<span>[^/]+?)" + _glob_to_regex(tail.split("/")[0]) + "(?:/|$)"
    )
    by_name: dict[str, Span] = {}
    for path in glob.glob(head + "*" + tail):
        match = regex.match(path)
        if not match:
            continue
        name = match.group("span")
        key = span_key(name)
        if key is not None and name not in by_name:
            by_name[name] = Span(key, name, pattern.replace(SPAN_PLACEHOLDER, name))
    return list(by_name.values())


def _glob_to_regex(part: str) -> str:
    out = []
    for char in part:
        if char == "*":
            out.append(r"[^/]*")
        elif char == "?":
            out.append(r"[^/]")
        else:
            out.append(re.escape(char))
    return "".join(out)


def select(spans: list[Span], window: int = 1) -> list[Span]:
    """The newest span, or the rolling window of the newest ``window`` spans (oldest first)."""
    if window < 1:
        raise UsageError("span_window", f"must be at least 1, got {window}")
    return spans[-window:]


def previous(spans: list[Span], current: Span) -> Span | None:
    """The span just before ``current``: the baseline drift is measured against."""
    older = [span for span in spans if span < current]
    return older[-1] if older else None


def fingerprint(paths: list[str], root: str | None = None, chunk_size: int = 1 << 20) -> str:
    """A content hash of the data files: same bytes under the same relative names, same fingerprint.

    Hashes contents, not mtimes, so re-copying a span does not make it new and
    a file rewritten in place does.
    """
    digest = hashlib.sha256()
    if root is None:
        root = os.path.commonpath(paths) if len(paths) > 1 else os.path.dirname(paths[0]) if paths else ""
    for path in sorted(paths):
        digest.update(os.fsencode(os.path.relpath(path, root)) + b"\0")
        hash_contents(digest, path, chunk_size)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def spans_fingerprint(spans: list[Span]) -> str:
    """One fingerprint for a window of spans: their names and their files' contents."""
    digest = hashlib.sha256()
    for span in spans:
        files = span.files()
        if not files:
            raise UsageError("spans", f"span '{span.name}' ({span.path}) has no data files")
        root = span.path if os.path.isdir(span.path) else None
        digest.update(span.name.encode() + b"=" + fingerprint(files, root).encode() + b";")
    return digest.hexdigest()[:16]
