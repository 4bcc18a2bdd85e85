"""The foreground ``--every 24h`` mode, for users with no scheduler: run, sleep to the next tick, repeat.

Ticks are counted from the start (start + k * interval), so a long run does not
push every later one back; a run that overruns its tick makes the loop skip the
ticks it missed rather than fire them back to back.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from typing import TextIO

from common.errors import KestrelError, UsageError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_interval(text: str, flag: str = "every") -> float:
    """``24h``, ``30m``, ``1h30m``, ``2d``, ``90s`` (or plain seconds) -> seconds."""
    cleaned = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        seconds = float(cleaned)
    elif cleaned and _PART.sub("", cleaned) == "":
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(cleaned))
    else:
        raise UsageError(flag, f"'{text}' is not an interval; write e.g. 24h, 30m, 1h30m, 2d or 90s")
    if seconds <= 0:
        raise UsageError(flag, f"'{text}' must be longer than zero")
    return seconds


def every(
    interval: float,
    run: Callable[[], str],
    stream: TextIO = sys.stdout,
    max_runs: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Call ``run`` (which returns its one-line summary) every ``interval`` seconds until stopped.

    A failed run is one ``error:`` line and the loop goes on: the next tick may
    find the data fixed. ``max_runs`` bounds the loop (tests, one-off catch-ups).
    """
    started = clock()
    done = 0
    while max_runs is None or done < max_runs:
        try:
            print(run(), file=stream, flush=True)
        except KestrelError as err:
            print(f"error: {err}", file=stream, flush=True)
        except Exception as err:  # noqa: BLE001  (a long-lived loop outlives one bad run)
            print(f"error: run failed: {type(err).__name__}: {err}", file=stream, flush=True)
        done += 1
        if max_runs is not None and done >= max_runs:
            return
        elapsed = clock() - started
        next_tick = (int(elapsed // interval) + 1) * interval
        print(f"next run in {_format(next_tick - elapsed)}", file=stream, flush=True)
        sleep(next_tick - elapsed)


def _format(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
