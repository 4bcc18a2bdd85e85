"""The errors the REST API answers, as TF Serving does: a status code and ``{"error": "<message>"}``.

TF Serving maps its canonical error codes to HTTP (http_server.cc's ToHTTPStatusCode): INVALID_ARGUMENT
and FAILED_PRECONDITION are 400, NOT_FOUND 404, RESOURCE_EXHAUSTED 429, UNAVAILABLE 503, INTERNAL 500.
"""

from __future__ import annotations

import json
from http import HTTPStatus

# A value echoed in an error message ("JSON Value: ...") is cut to this many characters: TF Serving
# echoes it whole, which for a base64 image is the whole request again.
ECHO_CHARS = 200


class RequestError(Exception):
    """A request the server refuses: its HTTP status and TF Serving's error message."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def invalid(message: str) -> RequestError:
    return RequestError(HTTPStatus.BAD_REQUEST, message)


def not_found(message: str) -> RequestError:
    return RequestError(HTTPStatus.NOT_FOUND, message)


def json_value(value) -> str:
    """A JSON value as TF Serving's error messages print it (compact), cut to ECHO_CHARS."""
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + "..."


def json_type(value) -> str:
    """rapidjson's type names, used in TF Serving's messages."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"
