"""The run registry: every retraining run's inputs, outputs, timings and status, in SQLite.

One file (``<work_dir>/registry.sqlite``), no server: the store works where cron
does. ML Metadata (TFX's store) was the alternative; its release for TF 2.15
(ml-metadata 1.15.0) requires attrs<24, which the pinned stack does not allow
(docs/retraining.md). Writes happen under the retraining lock, so there is one
writer at a time; readers (``--list``, ``--show``) can run any time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from typing import Any

from common.errors import UsageError

REGISTRY_FILE = "registry.sqlite"

# Statuses. RUNNING that no live process holds (the lock is free) is an interrupted run.
RUNNING = "running"
PUSHED = "pushed"
NOT_BLESSED = "not_blessed"
VALIDATION_FAILED = "validation_failed"
FAILED = "failed"
SUPERSEDED = "superseded"  # an interrupted run that --force replaced with a fresh one
# A span is "already trained" once a run over it reached a decision.
DECIDED = (PUSHED, NOT_BLESSED, VALIDATION_FAILED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    model              TEXT NOT NULL,     -- serving name: serving/<model>/<version>
    span               TEXT NOT NULL,     -- the newest span of the window
    spans              TEXT NOT NULL,     -- JSON list: every span of the window, oldest first
    fingerprint        TEXT NOT NULL,     -- content hash of the window's data files
    schema_key         TEXT NOT NULL,     -- model + data schema; a change means train from scratch
    code_version       TEXT,              -- git commit of kestrel (+dirty)
    flags              TEXT NOT NULL,     -- JSON: the retraining config of the run
    status             TEXT NOT NULL,
    model_dir          TEXT NOT NULL,     -- checkpoints; kept for inspection, blessed or not
    warm_start_from    TEXT,              -- checkpoint dir of the blessed model, or NULL (from scratch)
    warm_start_note    TEXT,              -- why warm or cold
    global_step        INTEGER,
    metrics            TEXT,              -- JSON: {"holdout": {...}, "span": {...}}
    validation         TEXT,              -- the gate's one-line summary
    blessed            INTEGER,           -- 1, 0, or NULL before the decision
    blessing_reason    TEXT,
    baseline_run       INTEGER,           -- the blessed run compared against
    export_path        TEXT,
    pushed_version     INTEGER,
    timings            TEXT,              -- JSON: seconds per step
    error              TEXT,
    attempts           INTEGER NOT NULL DEFAULT 1,  -- 2+ when resumed after an interruption
    pid                INTEGER,
    host               TEXT,
    started_at         TEXT NOT NULL,
    finished_at        TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_data ON runs (model, fingerprint, status);
CREATE TABLE IF NOT EXISTS serving_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    model   TEXT NOT NULL,
    action  TEXT NOT NULL,                -- push | rollback | rollforward | prune
    version INTEGER,
    run_id  INTEGER,
    detail  TEXT
);
"""

_JSON_COLUMNS = ("spans", "flags", "metrics", "timings")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


@dataclasses.dataclass(frozen=True)
class Run:
    """One row of ``runs``, JSON columns decoded."""

    id: int
    model: str
    span: str
    spans: list[str]
    fingerprint: str
    schema_key: str
    code_version: str | None
    flags: dict[str, Any]
    status: str
    model_dir: str
    warm_start_from: str | None
    warm_start_note: str | None
    global_step: int | None
    metrics: dict[str, Any] | None
    validation: str | None
    blessed: int | None
    blessing_reason: str | None
    baseline_run: int | None
    export_path: str | None
    pushed_version: int | None
    timings: dict[str, float] | None
    error: str | None
    attempts: int
    pid: int | None
    host: str | None
    started_at: str
    finished_at: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Run:
        values = dict(row)
        for column in _JSON_COLUMNS:
            if values[column] is not None:
                values[column] = json.loads(values[column])
        return cls(**values)

    def holdout_metric(self, name: str) -> float | None:
        return ((self.metrics or {}).get("holdout") or {}).get(name)


class Registry:
    """The SQLite run registry at ``<work_dir>/registry.sqlite``."""

    def __init__(self, work_dir: str):
        os.makedirs(work_dir, exist_ok=True)
        self.path = os.path.join(work_dir, REGISTRY_FILE)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- writing ------------------------------------------------------------

    def start(
        self,
        *,
        model: str,
        spans: list[str],
        fingerprint: str,
        schema_key: str,
        code_version: str | None,
        flags: dict[str, Any],
        model_dir: str,
    ) -> int:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (model, span, spans, fingerprint, schema_key, code_version, flags, status,"
                " model_dir, pid, host, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    model,
                    spans[-1],
                    json.dumps(spans),
                    fingerprint,
                    schema_key,
                    code_version,
                    json.dumps(flags, sort_keys=True),
                    RUNNING,
                    model_dir,
                    os.getpid(),
                    socket.gethostname(),
                    now(),
                ),
            )
            return int(cursor.lastrowid)

    def resume(self, run_id: int) -> None:
        """Take over an interrupted run: this process now runs it, one attempt more."""
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET attempts = attempts + 1, pid = ?, host = ?, status = ?, error = NULL WHERE id = ?",
                (os.getpid(), socket.gethostname(), RUNNING, run_id),
            )

    def update(self, run_id: int, **fields: Any) -> None:
        if not fields:
            return
        for column in _JSON_COLUMNS:
            if column in fields and fields[column] is not None:
                fields[column] = json.dumps(fields[column], sort_keys=True)
        if fields.get("status") not in (None, RUNNING):
            fields.setdefault("finished_at", now())
        assignments = ", ".join(f"{column} = ?" for column in fields)
        with self._transaction() as db:
            db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*fields.values(), run_id))

    def record_serving(
        self, model: str, action: str, version: int | None, run_id: int | None = None, detail: str = ""
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO serving_events (at, model, action, version, run_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
                (now(), model, action, version, run_id, detail),
            )

    # -- reading ------------------------------------------------------------

    def get(self, run_id: int) -> Run:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise UsageError("show", f"no run {run_id} in {self.path}")
        return Run.from_row(row)

    def runs(self, model: str | None = None, limit: int | None = None) -> list[Run]:
        """Runs, newest first."""
        query, args = "SELECT * FROM runs", []
        if model:
            query, args = query + " WHERE model = ?", [model]
        query += " ORDER BY id DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        return [Run.from_row(row) for row in self._db.execute(query, args)]

    def decided(self, model: str, fingerprint: str) -> Run | None:
        """The latest run over exactly this data that reached a decision: the span is already trained."""
        marks = ", ".join("?" for _ in DECIDED)
        row = self._db.execute(
            f"SELECT * FROM runs WHERE model = ? AND fingerprint = ? AND status IN ({marks}) ORDER BY id DESC LIMIT 1",
            (model, fingerprint, *DECIDED),
        ).fetchone()
        return Run.from_row(row) if row else None

    def unfinished(self, model: str, fingerprint: str) -> Run | None:
        """The latest run over this data that neither decided nor was replaced: killed (left RUNNING by a
        dead process; callers hold the lock, so no live one) or failed. The next invocation resumes it."""
        row = self._db.execute(
            "SELECT * FROM runs WHERE model = ? AND fingerprint = ? AND status IN (?, ?) ORDER BY id DESC LIMIT 1",
            (model, fingerprint, RUNNING, FAILED),
        ).fetchone()
        return Run.from_row(row) if row else None

    def supersede_unfinished(self, model: str) -> None:
        """Runs left RUNNING by a dead process that a new run replaces (newer data, or --force); say so."""
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, finished_at = ? WHERE model = ? AND status = ?",
                (SUPERSEDED, now(), model, RUNNING),
            )

    def pushed(self, model: str, version: int) -> Run | None:
        """The run that pushed ``version`` of ``model``."""
        row = self._db.execute(
            "SELECT * FROM runs WHERE model = ? AND pushed_version = ? ORDER BY id DESC LIMIT 1", (model, version)
        ).fetchone()
        return Run.from_row(row) if row else None

    def max_version(self, model: str) -> int:
        row = self._db.execute(
            "SELECT MAX(version) FROM serving_events WHERE model = ? AND action = 'push'", (model,)
        ).fetchone()
        return int(row[0] or 0)


# -- formatting ---------------------------------------------------------------


def format_table(runs: list[Run], served: dict[str, int | None] | None = None) -> str:
    """``--list``: one line a run, newest first; ``*`` marks the run whose version is served."""
    served = served or {}
    header = f"{'id':>4}  {'started (UTC)':<20} {'model':<10} {'span':<12} {'status':<18} {'holdout':>8} {'version':>7}  note"
    lines = [header]
    for run in runs:
        accuracy = run.holdout_metric("accuracy")
        version = run.pushed_version
        mark = "*" if version is not None and served.get(run.model) == version else " "
        note = run.blessing_reason or run.validation or run.error or ""
        if run.status == RUNNING:
            note = f"interrupted or in progress (pid {run.pid})"
        lines.append(
            f"{run.id:>4}  {run.started_at[:19]:<20} {run.model:<10} {run.span:<12} {run.status:<18} "
            f"{accuracy if accuracy is None else f'{accuracy:.4f}'!s:>8} "
            f"{'' if version is None else version!s:>6}{mark}  {note[:110]}"
        )
    return "\n".join(lines)


def format_run(run: Run) -> str:
    """``--show``: every field of one run."""
    lines = []
    for field in dataclasses.fields(Run):
        value = getattr(run, field.name)
        if isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True)
        lines.append(f"{field.name:<16} {value if value is not None else '-'}")
    return "\n".join(lines)
