"""The exit statuses of scripts.retrain: one table, for cron, systemd and Airflow (docs/retraining.md prints it).

The numbers are a contract with schedulers (systemd's SuccessExitStatus, Airflow's skip_on_exit_code):
they never change meaning. No TensorFlow here: the lock and the docs test read this table.
"""

from __future__ import annotations

OK = 0  # a version was pushed, or there was nothing new to train
FAILED = 1  # the run started and could not finish (it resumes on the next invocation)
USAGE = 2  # a bad flag or a bad --holdout; nothing recorded, nothing started
ALREADY_RUNNING = 3  # another invocation holds the lock; this one exited at once
REFUSED_DATA = 4  # the span was refused (the gate, or a class missing from it); recorded; serving unchanged
NOT_BLESSED = 5  # trained and evaluated, not good enough to serve: kept, not pushed

# (status, meaning), in the order docs/retraining.md lists them.
TABLE: tuple[tuple[int, str], ...] = (
    (OK, "a version was pushed, rolled back or forward, or there was nothing new (span already decided, no spans)"),
    (FAILED, "the run started and failed (it resumes on the next invocation)"),
    (USAGE, "usage error: a bad flag, a missing or undecodable holdout, a holdout without a class of the span"),
    (ALREADY_RUNNING, "already running: another invocation holds the lock; this one exited at once"),
    (
        REFUSED_DATA,
        "data refused: the validation gate refused the span, or the span lacks a class of the holdout; "
        "recorded in the registry; serving unchanged",
    ),
    (NOT_BLESSED, "trained and evaluated but not blessed; kept for inspection, not pushed"),
)


def markdown_table() -> str:
    """The table as docs/retraining.md prints it."""
    rows = [f"| {status} | {meaning} |" for status, meaning in TABLE]
    return "\n".join(["| status | meaning |", "| --- | --- |", *rows])
