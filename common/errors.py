"""The errors kestrel reports to a user as one line instead of a traceback."""

from __future__ import annotations


class KestrelError(Exception):
    """A failure the user can fix; reported as ``error: <message>``.

    ``exit_code`` 2 marks usage errors (a bad flag value, a missing file the
    user named); 1 marks a run that started and could not finish.
    """

    exit_code = 1


class UsageError(KestrelError):
    """A flag or argument value that is not allowed."""

    exit_code = 2

    def __init__(self, flag: str | None, message: str):
        self.flag = flag
        text = f"--{flag}: {message}" if flag else message
        super().__init__(text)


class NetworkUnavailableError(KestrelError):
    """A remote source the user named could not be fetched."""

    exit_code = 2


class NonFiniteLossError(KestrelError):
    """Training produced a NaN or infinite loss: the run stops and nothing is exported."""

    def __init__(self, step: int | None):
        where = f"at step {step}" if step is not None else "during training"
        super().__init__(
            f"training stopped {where}: the loss became NaN or infinite; nothing was exported "
            "(lower --learning_rate, check the data for NaN/Inf values, or resume from the last checkpoint)"
        )
        self.step = step
