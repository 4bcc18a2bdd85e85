"""The gate's verdict, remembered: unchanged data is not validated twice.

TFX caches a component's outputs by the fingerprint of its inputs; kestrel does
the same for the data-validation gate. The key covers what the verdict depends
on: every file the gate reads (path, size, modification time: TFX's file
fingerprint), the curated schema and the latest accepted span of the run's
validation directory (the drift baseline), the gate's settings and the TFDV
version. A hit copies the validated span's artifacts (statistics, report,
schema) into the run's validation directory and prints the verdict, without
importing TFDV or Beam (about 1.5 s); a miss runs the gate and remembers a
verdict that let the data through. Refusals are not remembered: refused data is
checked again next time, findings and all.

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
from importlib import metadata

ENTRY_FILE = "verdict.json"
SPAN_COPY = "span"
SCHEMA_FILE = "schema.pbtxt"  # pipeline.validation.config's resolved schema, at the artifacts_dir's root
DATA_FINGERPRINT_FILE = "data_fingerprint.txt"  # in a span that passed: the data it validated


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A remembered verdict: the line the gate printed, and where its artifacts are kept."""

    examples: int
    verdict: str  # "clean" or "ALLOWED despite findings (--allow_anomalies)"
    entry_dir: str


def data_fingerprint(files: tuple[str, ...]) -> str | None:
    """TFX's file fingerprint (path, size, modification time) of every file the gate reads.

    None when a file is not on the local disk (gs://, missing): such data is validated every time.
    """
    digest = hashlib.sha256()
    for path in files:
        for name, size, mtime in _files(path):
            if size < 0:
                return None
            digest.update(f"f:{name},size:{size},mtime:{mtime};".encode())
    return digest.hexdigest()[:32]


def cache_key(data_key: str, artifacts_dir: str, settings: dict) -> str:
    """The fingerprint of everything the verdict depends on: the data, the schema, the baseline, the settings.

    The drift baseline is the latest span of ``artifacts_dir`` the gate let through: a
    baseline of the same data counts as none (data shows no drift against itself).
    """
    baseline = _latest_data_fingerprint(artifacts_dir)
    digest = hashlib.sha256(f"data:{data_key};baseline:{'' if baseline == data_key else baseline};".encode())
    digest.update(b"schema:" + _read(os.path.join(artifacts_dir, SCHEMA_FILE)))
    digest.update(json.dumps({**settings, "tfdv": _version("tensorflow-data-validation")}, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def mark_span(span_dir: str, data_key: str) -> None:
    """Records which data a span that passed validated: the next run's baseline part of the key."""
    with open(os.path.join(span_dir, DATA_FINGERPRINT_FILE), "w") as f:
        f.write(data_key)


def lookup(cache_dir: str, key: str) -> Verdict | None:
    entry = os.path.join(cache_dir, key)
    try:
        with open(os.path.join(entry, ENTRY_FILE)) as f:
            recorded = json.load(f)
    except (OSError, ValueError):
        return None  # none, or torn: validate afresh
    if not os.path.isdir(os.path.join(entry, SPAN_COPY)):
        return None
    return Verdict(int(recorded["examples"]), str(recorded["verdict"]), entry)


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
            json.dump({"examples": examples, "verdict": verdict, "span_dir": span_dir}, f)
        shutil.rmtree(entry, ignore_errors=True)
        os.rename(staging, entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _files(path: str):
    """(name, size, mtime_ns) of ``path``, of every file it matches (a glob) or holds (an image folder), sorted."""
    if "://" in path:
        yield path, -1, -1
        return
    if glob.has_magic(path):
        matched = sorted(glob.glob(path))
        if not matched:
            yield path, -1, -1
        for name in matched:
            yield from _files(name)
        return
    if os.path.isdir(path):
        for root, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(names):
                yield from _files(os.path.join(root, name))
        return
    try:
        stat = os.stat(path)
    except OSError:
        yield path, -1, -1  # gone
        return
    yield path, stat.st_size, stat.st_mtime_ns


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
