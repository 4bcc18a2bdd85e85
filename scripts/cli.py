"""Runs an absl main so that every user error is one line and a distinct exit status.

Flag parsing errors and ``KestrelError``s print ``error: <what is wrong>`` on
stderr and exit with the error's status (2 for usage errors); no traceback.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable

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


def _parse_flags(argv: list[str]) -> list[str]:
    try:
        return flags.FLAGS(argv)
    except flags.Error as err:
        fail(str(err).splitlines()[0])


def run(main: Callable[[list[str]], int | None]) -> None:
    """``absl.app.run(main)``, with KestrelError turned into one line and its exit status."""

    def guarded_main(argv: list[str]) -> int | None:
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        if not flags.FLAGS["verbosity"].present:
            # TFDS and Estimator INFO logs drown the progress lines; -v 0 brings them back.
            logging.set_verbosity(logging.WARNING)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"keras\.")
        if len(argv) > 1:
            fail(f"unexpected arguments {argv[1:]}; every option is a --flag (see --helpshort)")
        try:
            return main(argv)
        except KestrelError as err:
            fail(str(err), err.exit_code)

    app.run(guarded_main, flags_parser=_parse_flags)
