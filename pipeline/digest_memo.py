"""Each data file's sha256, remembered by its full stat identity, as git's index remembers blob ids.

The gate's verdict cache keys on the contents of every file it reads; reading every byte on
each launch cost ~5.6x the old (path, size, mtime) key (docs/validation.md). This memo keeps
each digest beside the identity it was computed under: path, size, st_mtime_ns, st_ctime_ns,
st_ino and st_dev. ``touch -r``, ``rsync -t``, ``cp -p`` and ``gsutil cp -p`` can put an
mtime back but not a ctime: the kernel moves ctime on every content or metadata change, so a
file whose identity is unchanged still holds the bytes that were hashed, and is not read.

Two files per data set, each written beside itself and renamed in:

- ``digests-<data>.json``: every file's identity and digest; a file whose identity changed
  is read again, the others are not;
- ``digests-<data>.key.json``: a sha256 of every file's identity (names, skip reasons, stat
  fields) and the data key they gave. When nothing changed, this small file alone gives the
  key, without parsing an entry per file: that parse cost as much as the old stat key.

Racy entries, as git treats racily-clean index entries: timestamps are coarse (the kernel's
clock tick), so a file changed in the same tick as it was stat'ed could keep its identity.
An entry (and the whole-data key) is believed only when the file's mtime and ctime are more
than ``RACY_NS`` older than the moment hashing began; otherwise the file is read again.

Files whose stat gives no inode or ctime (0) are always read, and their data has no
whole-data key. A memo file that does not have the shape written here is ignored with one
warning line, and every file is read.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import tempfile
import time
from array import array
from collections.abc import Callable, Sequence

VERSION = 1
RACY_NS = 2 * 10**9  # timestamp granularity and clock skew between the kernel and this process, with margin
_HEX = "0123456789abcdef"

Identity = tuple[int, int, int, int, int]  # size, mtime_ns, ctime_ns, ino, dev
Entry = tuple[str, str, "os.stat_result | None"]  # name, why it is skipped (or ""), its stat


class MalformedMemo(ValueError):
    """A memo that cannot be believed: why, in a few words."""


def memo_path(memo_dir: str, files: tuple[str, ...]) -> str:
    """Where the per-file memo for this data (the gate's files, globs and folders) is kept: one per data set."""
    named = hashlib.sha256("\0".join(files).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return os.path.join(memo_dir, f"digests-{named}.json")


def key_path(memo_path_: str) -> str:
    """The whole-data key's file, beside the per-file memo."""
    return memo_path_[: -len(".json")] + ".key.json"


# The stat fields a memo entry is keyed by, in its order; read in C, one call a file.
_IDENTITY_FIELDS = operator.attrgetter("st_size", "st_mtime_ns", "st_ctime_ns", "st_ino", "st_dev")


def identity(st: os.stat_result | None) -> Identity | None:
    """The stat fields a memo entry is keyed by; None when the filesystem gives no inode or ctime."""
    if st is None or not st.st_ino or not st.st_ctime_ns:
        return None
    return _IDENTITY_FIELDS(st)


def identities_digest(entries: Sequence[Entry]) -> tuple[str, int] | None:
    """A sha256 of every entry's name, skip reason and identity, and the newest change among them.

    None when a file to be read has no identity: such data is read every time. The stat
    fields go in as one array of 64-bit integers, not as text: formatting them cost more than
    the stat calls (2.8 against 0.9 ms for 2,000 files).
    """
    names, fields = [], []
    for name, problem, st in entries:  # one loop, no call a file: 2,000 files pay it on every recall
        names += (name, problem)
        if not problem:
            if st is None:
                return None
            fields += _IDENTITY_FIELDS(st)
    if 0 in fields[3::5] or 0 in fields[2::5]:  # no inode or no ctime: identity() refuses it
        return None
    digest = hashlib.sha256("\0".join(names).encode("utf-8", "surrogateescape") + b"\0")
    try:
        digest.update(b"q" + array("q", fields).tobytes())
    except OverflowError:  # an inode number past 2**63: as text
        digest.update(b"t" + ",".join(map(str, fields)).encode())
    newest = max(max(fields[1::5], default=0), max(fields[2::5], default=0))
    return digest.hexdigest(), newest


class DigestMemo:
    """The digests read from one memo, and those of this run (written back when the whole-data key missed)."""

    def __init__(self, path: str, warn: Callable[[str], None] = print):
        self.path = path
        self.started_ns = time.time_ns()  # before any stat of this run: the racy line is drawn from here
        self._warn = warn
        self._warned = False
        self._old: dict | None = None  # loaded on the first per-file lookup
        self._old_started = 0
        self._new: dict[str, list] = {}
        self.hashed = 0  # files read this run: a miss, a racy entry, or no identity

    def recall(self, entries: Sequence[Entry]) -> str | None:
        """The data key remembered for exactly these entries, their identities unchanged and settled; else None."""
        current = identities_digest(entries)
        recorded = self._read(key_path(self.path)) if current else None
        if current is None or recorded is None:
            return None
        try:
            started, newest, identities, data_key = _checked_key(recorded)
        except MalformedMemo as err:
            self._malformed(key_path(self.path), err)
            return None
        if identities != current[0] or newest >= started - RACY_NS:
            return None
        return data_key

    def digest(self, path: str, st: os.stat_result | None, compute: Callable[[str], bytes]) -> bytes:
        """The sha256 of ``path`` (stat'ed as ``st`` before any read): remembered if its identity holds, else read."""
        if self._old is None:
            self._load()
        ident = identity(st)
        entry = self._old.get(path) if ident else None
        if entry is not None and tuple(entry[:5]) == ident and max(ident[1], ident[2]) < self._old_started - RACY_NS:
            self._new[path] = entry
            return bytes.fromhex(entry[5])
        self.hashed += 1
        content = compute(path)
        if ident:
            self._new[path] = [*ident, content.hex()]
        return content

    def _load(self) -> None:
        self._old, self._old_started = {}, 0
        recorded = self._read(self.path)
        if recorded is None:
            return
        try:
            self._old, self._old_started = _checked(recorded)
        except MalformedMemo as err:
            self._malformed(self.path, err)

    def _read(self, path: str):
        if self._warned:  # one memo file ignored: every file is read, nothing else believed
            return None
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            self._malformed(path, f"does not read as JSON: {err}")
            return None

    def _malformed(self, path: str, why) -> None:
        self._warned = True
        self._old, self._old_started = {}, 0
        self._warn(f"warning: --gate_cache_dir: ignoring the digest memo {path} ({why}); hashing every file")

    def save(self, entries: Sequence[Entry], data_key: str) -> None:
        """Writes this run's entries (only this data's files: the old set is pruned) and the whole-data key.

        Each file written beside itself, then renamed in: a reader sees the old one or the new
        one, never half. The key file alone is self-consistent (identities and the key they gave).
        """
        _write_atomically(self.path, {"version": VERSION, "started_ns": self.started_ns, "files": self._new})
        current = identities_digest(entries)
        if current is not None:
            identities, newest = current
            record = {"started_ns": self.started_ns, "newest_ns": newest, "identities": identities}
            _write_atomically(key_path(self.path), {"version": VERSION, **record, "data_key": data_key})


def _write_atomically(path: str, recorded: dict) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=".digests-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(recorded, f)
        os.replace(staging, path)
    except BaseException:
        os.unlink(staging)
        raise


def _checked(recorded) -> tuple[dict, int]:
    """The memo's entries and the time its hashing began, once its shape holds (every entry checked)."""
    if not isinstance(recorded, dict) or recorded.get("version") != VERSION:
        raise MalformedMemo(f"not a version-{VERSION} memo")
    started, files = recorded.get("started_ns"), recorded.get("files")
    if type(started) is not int or not isinstance(files, dict):
        raise MalformedMemo("'started_ns' or 'files' missing or of the wrong type")
    for path, entry in files.items():
        if not _is_entry(entry):
            raise MalformedMemo(f"the entry for {path!r} is not five whole numbers and a sha256")
    return files, started


def _checked_key(recorded) -> tuple[int, int, str, str]:
    """The whole-data key's fields: when hashing began, the newest change, the identities' digest, the data key."""
    if not isinstance(recorded, dict) or recorded.get("version") != VERSION:
        raise MalformedMemo(f"not a version-{VERSION} memo")
    fields = [recorded.get(name) for name in ("started_ns", "newest_ns", "identities", "data_key")]
    if not all(type(v) is int for v in fields[:2]) or not (_is_hex(fields[2], 64) and _is_hex(fields[3], 32)):
        raise MalformedMemo("'started_ns', 'newest_ns', 'identities' or 'data_key' missing or malformed")
    return tuple(fields)


def _is_hex(value, length: int) -> bool:
    return type(value) is str and len(value) == length and not value.strip(_HEX)


def _is_entry(entry) -> bool:
    return type(entry) is list and len(entry) == 6 and all(type(v) is int for v in entry[:5]) and _is_hex(entry[5], 64)
