"""The gate's verdict, remembered: unchanged data is not validated twice.

TFX caches a component's outputs by the fingerprint of its inputs; kestrel does
the same for the data-validation gate. The key covers what the verdict depends
on: the bytes of every file the gate reads (a sha256 of their contents and
names: a file rewritten with its size and modification time kept, as ``touch -r``,
``rsync -t`` and ``gsutil cp -p`` leave it, is new data), the curated schema's
digest, the latest accepted span of the run's validation directory (the drift
baseline), the gate's settings and the TFDV version. A hit copies the validated span's artifacts (statistics, report,
schema) into the run's validation directory and prints the verdict, without
importing TFDV or Beam (about 1.5 s); a miss runs the gate and remembers a
verdict that let the data through. Refusals are not remembered: refused data is
checked again next time, findings and all.

An entry is data read back from disk, and checked as such before it is believed: an
entry of the wrong shape, for another key, with a verdict that did not let the data
through, or whose example count disagrees with its span's result.json is ignored with
one warning line, and the gate validates afresh.

No TensorFlow, TFDV or Beam here: the point is not to load them.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from importlib import metadata

from common.files import content_digest, judge_stat, list_files
from pipeline.digest_memo import DigestMemo, Entry, memo_path

ENTRY_FILE = "verdict.json"
SPAN_COPY = "span"
SCHEMA_FILE = "schema.pbtxt"  # pipeline.validation.config's resolved schema, at the artifacts_dir's root
DATA_FINGERPRINT_FILE = "data_fingerprint.txt"  # in a span that passed: the data it validated
RESULT_FILE = "result.json"  # the gate's GateResult.as_dict(), in every span
# How every verdict that lets data through begins (pipeline.data_gate.verdict): nothing else is remembered.
PASSING_VERDICTS = ("clean", "ALLOWED despite findings")


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A remembered verdict: the line the gate printed, and where its artifacts are kept."""

    examples: int
    verdict: str  # begins with one of PASSING_VERDICTS
    entry_dir: str


def data_fingerprint(files: tuple[str, ...], memo_dir: str = "", warn: Callable[[str], None] = print) -> str | None:
    """A sha256 of the names and contents of every file the gate reads.

    Entries the gate skips unread (a FIFO, a name that is not UTF-8: common/files.py) count
    by name and reason, one file at a time (a thread pool was slower: 184 ms against 95 ms for
    2,000 JPEGs). A file's digest is taken from the memo in ``memo_dir`` when its stat identity
    (ctime and inode included) is the one it was hashed under, and read otherwise
    (pipeline/digest_memo.py): the key is the same either way. None when a file is not on the
    local disk (gs://, missing, unreadable): such data is validated every time.
    """
    memo = DigestMemo(memo_path(memo_dir, files), warn) if memo_dir else None
    try:
        entries = [entry for path in files for entry in _entries(path)]
        recalled = memo.recall(entries) if memo else None
        if recalled:
            return recalled
        digest = hashlib.sha256()
        for name, problem, st in entries:
            content = b"" if problem else memo.digest(name, st, content_digest) if memo else content_digest(name)
            digest.update(os.fsencode(name) + b"\0" + problem.encode() + b"\0" + content)
    except (OSError, _NotLocal):
        return None
    data_key = digest.hexdigest()[:32]
    if memo:
        try:
            memo.save(entries, data_key)
        except OSError as err:  # an unwritable memo costs the next run a full read, not this run
            warn(f"warning: --gate_cache_dir: digest memo not written ({err})")
    return data_key


def cache_key(data_key: str, artifacts_dir: str, settings: dict) -> str:
    """The fingerprint of everything the verdict depends on: the data, the schema, the baseline, the settings.

    The drift baseline is the latest span of ``artifacts_dir`` the gate let through: a
    baseline of the same data counts as none (data shows no drift against itself).
    """
    baseline = _latest_data_fingerprint(artifacts_dir)
    digest = hashlib.sha256(f"data:{data_key};baseline:{'' if baseline == data_key else baseline};".encode())
    schema = hashlib.sha256(_read(os.path.join(artifacts_dir, SCHEMA_FILE))).hexdigest()
    digest.update(f"schema:{schema};".encode())
    digest.update(json.dumps({**settings, "tfdv": _version("tensorflow-data-validation")}, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def mark_span(span_dir: str, data_key: str) -> None:
    """Records which data a span that passed validated: the next run's baseline part of the key."""
    with open(os.path.join(span_dir, DATA_FINGERPRINT_FILE), "w") as f:
        f.write(data_key)


class MalformedEntry(ValueError):
    """A cache entry that cannot be believed: why, in a few words."""


def lookup(cache_dir: str, key: str, warn: Callable[[str], None] = print) -> Verdict | None:
    """The verdict remembered under ``key``; None if there is none, or none worth believing (then ``warn`` says why)."""
    entry = os.path.join(cache_dir, key)
    path = os.path.join(entry, ENTRY_FILE)
    if not os.path.exists(path):
        return None
    try:
        return _checked(entry, key)
    except MalformedEntry as err:
        warn(f"warning: --gate_cache_dir: ignoring the remembered verdict {path} ({err}); validating afresh")
        return None


def _checked(entry: str, key: str) -> Verdict:
    """The entry's verdict, once its shape and its agreement with its own span's result.json hold."""
    recorded = _json(os.path.join(entry, ENTRY_FILE))
    if not isinstance(recorded, dict):
        raise MalformedEntry(f"not an object: {type(recorded).__name__}")
    examples, verdict = recorded.get("examples"), recorded.get("verdict")
    if type(examples) is not int or examples < 0:
        raise MalformedEntry(f"'examples' is {examples!r}, not a count")
    if not isinstance(verdict, str) or not verdict.startswith(PASSING_VERDICTS):
        raise MalformedEntry(f"'verdict' is {verdict!r}: only a verdict that let the data through is remembered")
    if recorded.get("key") != key:
        raise MalformedEntry("written for another key")
    result = _json(os.path.join(entry, SPAN_COPY, RESULT_FILE))
    if not isinstance(result, dict) or result.get("passed") is not True:
        raise MalformedEntry(f"its span's {RESULT_FILE} does not show a verdict that let the data through")
    counts = result.get("num_examples")
    if not isinstance(counts, dict) or sum(v for v in counts.values() if type(v) is int) != examples:
        raise MalformedEntry(f"{examples} examples, unlike its span's {RESULT_FILE}")
    return Verdict(examples, verdict, entry)


def _json(path: str):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise MalformedEntry(f"{os.path.basename(path)} is missing") from None
    except (OSError, ValueError) as err:
        raise MalformedEntry(f"{os.path.basename(path)} does not read as JSON: {err}") from None


def restore(verdict: Verdict, artifacts_dir: str) -> str:
    """The remembered span's artifacts as the next span of ``artifacts_dir``; returns its report's path."""
    spans = os.path.join(artifacts_dir, "spans")
    os.makedirs(spans, exist_ok=True)
    taken = [int(n.split("-", 1)[1]) for n in os.listdir(spans) if n.startswith("span-") and n[5:].isdigit()]
    target = os.path.join(spans, f"span-{max(taken, default=-1) + 1}")
    shutil.copytree(os.path.join(verdict.entry_dir, SPAN_COPY), target)
    schema = os.path.join(verdict.entry_dir, SCHEMA_FILE)
    if os.path.isfile(schema) and not os.path.exists(os.path.join(artifacts_dir, SCHEMA_FILE)):
        shutil.copy2(schema, os.path.join(artifacts_dir, SCHEMA_FILE))
    return os.path.join(target, "report.html")


def store(cache_dir: str, key: str, span_dir: str, artifacts_dir: str, examples: int, verdict: str) -> None:
    """Remembers a verdict: written beside the cache, then renamed in, so a reader never sees half an entry."""
    os.makedirs(cache_dir, exist_ok=True)
    entry = os.path.join(cache_dir, key)
    staging = tempfile.mkdtemp(prefix=f".{key}-", dir=cache_dir)
    try:
        shutil.copytree(span_dir, os.path.join(staging, SPAN_COPY))
        schema = os.path.join(artifacts_dir, SCHEMA_FILE)
        if os.path.isfile(schema):
            shutil.copy2(schema, os.path.join(staging, SCHEMA_FILE))
        with open(os.path.join(staging, ENTRY_FILE), "w") as f:
            json.dump({"key": key, "examples": examples, "verdict": verdict, "span_dir": span_dir}, f)
        shutil.rmtree(entry, ignore_errors=True)
        os.rename(staging, entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class _NotLocal(Exception):
    """A file of the data is not on the local disk, or is gone: its content cannot be hashed."""


def _entries(path: str) -> Iterator[Entry]:
    """(name, why it is skipped or "", its stat) of every file ``path`` matches (a glob) or holds (a folder), sorted."""
    if "://" in path:
        raise _NotLocal(path)
    if glob.has_magic(path):
        matched = sorted(glob.glob(path))
        if not matched:
            raise _NotLocal(path)
        for name in matched:
            yield from _entries(name)
        return
    if os.path.isdir(path):
        listing = list_files(path)
        stats = listing.stats
        named = [(name, "", stats[name]) for name in listing.files]
        others = [(s.path, s.reason, None) for s in listing.skipped] + [(n, "hidden", None) for n in listing.hidden]
        yield from sorted(named + others, key=lambda entry: entry[0]) if others else named  # files come sorted
        return
    if not os.path.exists(path):
        raise _NotLocal(path)
    problem, st = judge_stat(path)
    yield path, problem.reason if problem else "", st


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _latest_data_fingerprint(artifacts_dir: str) -> str:
    spans = os.path.join(artifacts_dir, "spans")
    try:
        numbers = sorted(
            (int(n[5:]) for n in os.listdir(spans) if n.startswith("span-") and n[5:].isdigit()), reverse=True
        )
    except OSError:
        return ""
    for number in numbers:
        recorded = _read(os.path.join(spans, f"span-{number}", DATA_FINGERPRINT_FILE))
        if recorded:
            return recorded.decode()
    return ""


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"
