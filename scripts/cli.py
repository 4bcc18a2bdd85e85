"""Runs an absl main so that every user error is one line and a distinct exit status.

Flag parsing errors and ``KestrelError``s print ``error: <what is wrong>`` on
stderr and exit with the error's status (2 for usage errors); no traceback.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import logging as pylogging
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterator

# TensorFlow's C++ start-up chatter (CUDA plugin registration, CPU features)
# is noise on a command line; set TF_CPP_MIN_LOG_LEVEL=0 to see it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# google-api-core warns at import about future Python support.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")
# Never probe the GCE metadata server for credentials: it is a network call.
os.environ.setdefault("NO_GCE_CHECK", "true")

from absl import app, flags, logging  # noqa: E402

from common.errors import KestrelError  # noqa: E402

USAGE_EXIT = 2


def fail(message: str, exit_code: int = USAGE_EXIT) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(exit_code)


# Counts, sizes and steps end up in int32 fields (protobufs, tensor shapes): nothing larger is a usable value.
MAX_INT_FLAG = 2**31 - 1


def _parse_flags(argv: list[str]) -> list[str]:
    try:
        rest = flags.FLAGS(argv)
    except flags.Error as err:
        fail(str(err).splitlines()[0])
    for flag in _kestrel_flags():
        problem = _out_of_range(flag.value)
        if problem:
            fail(f"flag --{flag.name}={flag.value}: {problem}")
    return rest


def _out_of_range(value) -> str | None:
    """Rules for every number flag of kestrel's: absl's bounds let nan and int64 overflows through."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if isinstance(value, int) and abs(value) > MAX_INT_FLAG:
        return f"out of range; allowed: at most {MAX_INT_FLAG:,} in absolute value"
    return None


def _kestrel_flags() -> list[flags.Flag]:
    """The flags kestrel's own modules define (absl's and TensorFlow's keep their own rules)."""
    return [
        flag
        for module, module_flags in flags.FLAGS.flags_by_module_dict().items()
        if module.startswith("scripts") or module in ("__main__", sys.argv[0])  # a script run as __main__
        for flag in module_flags
    ]


_STORAGE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EDQUOT}
_STORAGE_WORDS = ("No space left", "File too large", "Read-only file system", "Permission denied", "quota")


def _storage_failure(err: BaseException) -> str | None:
    """The one-line reason when ``err`` is a failed write to storage, else None."""
    if isinstance(err, OSError) and err.errno in _STORAGE_ERRNOS:
        return f"{err.strerror} ({err.filename})" if err.filename else str(err.strerror)
    message = getattr(err, "message", None) or str(err)
    for line in message.splitlines():
        if any(word in line for word in _STORAGE_WORDS):
            return line.strip()[:300]
    return None


def _is_io_error(err: BaseException) -> bool:
    tf = sys.modules.get("tensorflow")  # loaded by now if anything could raise its errors
    return isinstance(err, OSError) or (tf is not None and isinstance(err, tf.errors.OpError))


@contextlib.contextmanager
def imports_without_gc() -> Iterator[None]:
    """Heavy imports (TensorFlow, TFDV, Beam) with Python's cycle collector paused, their objects then frozen.

    Importing TensorFlow, TFDV and Beam allocates millions of objects that live as long as the
    process; the collector's full passes over them find nothing to free (6 passes, 0.46 s of the
    3.4 s import here). Frozen (``gc.freeze``), later passes skip them too.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def run(main: Callable[[list[str]], int | None]) -> None:
    """``absl.app.run(main)``, with KestrelError turned into one line and its exit status."""

    def guarded_main(argv: list[str]) -> int | None:
        # TensorFlow's own logger, set by name: a command that needs no TensorFlow never loads it.
        pylogging.getLogger("tensorflow").setLevel(pylogging.ERROR)
        if not flags.FLAGS["verbosity"].present:
            # TFDS and Estimator INFO logs drown the progress lines; -v 0 brings them back.
            logging.set_verbosity(logging.WARNING)
            # Beam warns that python-snappy is missing on every TFRecord read.
            pylogging.getLogger("apache_beam").setLevel(pylogging.ERROR)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"keras\.")
        if len(argv) > 1:
            fail(f"unexpected arguments {argv[1:]}; every option is a --flag (see --helpshort)")
        try:
            return main(argv)
        except KestrelError as err:
            fail(str(err), err.exit_code)
        except Exception as err:
            # A full disk, a file-size limit or a read-only model_dir at a write mid-run: one
            # line, status 1; the checkpoints written before it are untouched (atomic renames).
            reason = _storage_failure(err) if _is_io_error(err) else None
            if reason is None:
                raise
            fail(f"cannot write: {reason}; free space or fix --model_dir permissions, then rerun to resume", 1)

    app.run(guarded_main, flags_parser=_parse_flags)
