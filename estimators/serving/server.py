"""A prediction server speaking TF Serving's REST API over kestrel's SavedModels (stdlib http.server).

Each model serves the newest numbered version under its base path (TF Serving's default
version policy); a poller re-reads the base paths and loads a newly pushed version, or the
version a rollback left newest, without a restart. Requests and answers follow
https://www.tensorflow.org/tfx/serving/api_rest: status, metadata and predict (row and
columnar formats, ``{"b64": ...}`` binary values); errors are ``{"error": "..."}``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2

from common.names import SERVING_KEY
from estimators.serving import model_base, page
from estimators.serving.model_base import ModelConfig

MAX_BODY_BYTES = 64 << 20  # a request larger than this is refused, not read into memory


class RequestError(Exception):
    """A request the server refuses: its HTTP status and TF Serving's error message."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class LoadedVersion:
    version: int
    path: str
    signatures: dict  # name -> concrete function
    signature_defs: dict  # name -> SignatureDef proto (the metadata TF Serving returns)


def _signature_defs(path: str) -> dict:
    model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        model.ParseFromString(f.read())
    return dict(model.meta_graphs[0].signature_def)


def load_version(path: str, version: int) -> LoadedVersion:
    loaded = tf.saved_model.load(path)
    return LoadedVersion(version, path, dict(loaded.signatures), _signature_defs(path))


class ServedModel:
    """One model name: the version it serves now, swapped whole when the base path changes."""

    def __init__(self, config: ModelConfig):
        self.config = config
        self.current: LoadedVersion | None = None
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Serve the newest version on disk; a version that fails to load leaves the old one serving."""
        available = model_base.versions(self.config.base_path)
        newest = available[-1] if available else None
        current = self.current
        if current is not None and current.version == newest:
            return
        if newest is None:
            self.current = None
            _log(f"{self.config.name}: no version under {self.config.base_path}; serving none")
            return
        try:
            loaded = load_version(os.path.join(self.config.base_path, str(newest)), newest)
        except Exception as err:  # a half-written or broken SavedModel must not stop the server
            _log(f"{self.config.name}: version {newest} failed to load ({str(err).splitlines()[0]}); kept the old one")
            return
        with self._lock:
            self.current = loaded
        _log(f"{self.config.name}: serving version {newest}")

    def version(self, requested: int | None) -> LoadedVersion:
        current = self.current
        if current is None or (requested is not None and requested != current.version):
            name = self.config.name
            spec = f"Specific({name}, {requested})" if requested is not None else f"Latest({name})"
            raise RequestError(HTTPStatus.NOT_FOUND, f"Servable not found for request: {spec}")
        return current


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Models:
    """The served models by name, and the poller that keeps them current."""

    def __init__(self, configs: list[ModelConfig]):
        self.by_name = {c.name: ServedModel(c) for c in configs}
        self._stop = threading.Event()

    def refresh(self) -> None:
        for model in self.by_name.values():
            model.refresh()

    def poll(self, every_seconds: float) -> threading.Thread:
        def loop() -> None:
            while not self._stop.wait(every_seconds):
                self.refresh()

        thread = threading.Thread(target=loop, name="model-base-poller", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def get(self, name: str) -> ServedModel:
        model = self.by_name.get(name)
        if model is None:
            raise RequestError(HTTPStatus.NOT_FOUND, f"Servable not found for request: Latest({name})")
        return model


# ---- JSON <-> tensors -------------------------------------------------------------------------


def _decode_b64(value):
    """``{"b64": "..."}`` -> bytes, anywhere in a nested list."""
    if isinstance(value, dict) and set(value) == {"b64"}:
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (ValueError, TypeError) as err:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"Unable to base64 decode: {err}") from None
    if isinstance(value, list):
        return [_decode_b64(v) for v in value]
    if isinstance(value, dict):
        raise RequestError(HTTPStatus.BAD_REQUEST, "JSON object: does not have named input(s)")
    return value


def _tensor(name: str, value, spec: tf.TensorSpec) -> tf.Tensor:
    try:
        return tf.constant(_decode_b64(value), dtype=spec.dtype)
    except RequestError:
        raise
    except (TypeError, ValueError) as err:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"input '{name}': {str(err).splitlines()[0]}") from None


def _is_named(value, names) -> bool:
    return isinstance(value, dict) and set(value) != {"b64"} and set(value) <= set(names)


def _check_names(value, specs: dict) -> None:
    """An object of named inputs names only the signature's."""
    if isinstance(value, dict) and set(value) != {"b64"} and not set(value) <= set(specs):
        unknown = sorted(set(value) - set(specs))
        raise RequestError(HTTPStatus.BAD_REQUEST, f"unknown input(s) {unknown}; the signature takes {sorted(specs)}")


def _row_inputs(instances: list, specs: dict) -> dict:
    """Row format: one instance a row, either the value of the only input or ``{input: value}``."""
    if not isinstance(instances, list):
        raise RequestError(HTTPStatus.BAD_REQUEST, "'instances' must be a list")
    for instance in instances:
        _check_names(instance, specs)
    if all(_is_named(i, specs) for i in instances):
        columns = {name: [i.get(name) for i in instances] for name in specs}
    elif len(specs) == 1 and not any(_is_named(i, specs) for i in instances):
        columns = {next(iter(specs)): instances}
    else:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"every instance must name the inputs {sorted(specs)}")
    return _columns(columns, specs)


def _column_inputs(inputs, specs: dict) -> dict:
    _check_names(inputs, specs)
    if _is_named(inputs, specs):
        return _columns(inputs, specs)
    if len(specs) == 1:
        return _columns({next(iter(specs)): inputs}, specs)
    raise RequestError(HTTPStatus.BAD_REQUEST, f"'inputs' must name the inputs {sorted(specs)}")


def _columns(columns: dict, specs: dict) -> dict:
    missing = [n for n in specs if columns.get(n) is None]
    if missing:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"missing input(s) {missing}; the signature takes {sorted(specs)}")
    return {name: _tensor(name, columns[name], specs[name]) for name in specs}


def _json_value(name: str, array: np.ndarray):
    """Tensor -> JSON: strings as text, or ``{"b64": ...}`` for outputs named ``*_bytes`` (TF Serving's rule)."""
    if array.dtype.kind in "SO":
        as_bytes = name.endswith("_bytes")

        def convert(item):
            if as_bytes:
                return {"b64": base64.b64encode(item).decode()}
            return item.decode("utf-8", "replace")

        return np.vectorize(convert, otypes=[object])(array).tolist() if array.size else array.tolist()
    return array.tolist()


def predict(model: LoadedVersion, body: dict) -> dict:
    """A predict request's body -> TF Serving's answer (``predictions`` for rows, ``outputs`` for columns)."""
    if not isinstance(body, dict):
        raise RequestError(HTTPStatus.BAD_REQUEST, "the request body must be a JSON object")
    name = body.get("signature_name") or SERVING_KEY
    signature = model.signatures.get(name)
    if signature is None:
        raise RequestError(HTTPStatus.BAD_REQUEST, f'Serving signature name: "{name}" not found in signature def')
    specs = signature.structured_input_signature[1]
    if ("instances" in body) == ("inputs" in body):
        raise RequestError(HTTPStatus.BAD_REQUEST, "the request needs exactly one of 'instances' or 'inputs'")
    rows = "instances" in body
    tensors = _row_inputs(body["instances"], specs) if rows else _column_inputs(body["inputs"], specs)
    try:
        outputs = signature(**tensors)
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as err:
        raise RequestError(HTTPStatus.BAD_REQUEST, _first_line(err)) from None
    values = {key: _json_value(key, t.numpy()) for key, t in sorted(outputs.items())}
    if not rows:
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    count = len(next(iter(values.values())))
    return {"predictions": [{key: v[i] for key, v in values.items()} for i in range(count)]}


def _first_line(err: Exception) -> str:
    from estimators.serving.predict import op_message  # the graph error's line that says what is wrong

    return op_message(getattr(err, "message", None) or str(err))


# ---- responses ------------------------------------------------------------------------------


def status(model: ServedModel, requested: int | None) -> dict:
    loaded = model.version(requested)
    return {
        "model_version_status": [
            {"version": str(loaded.version), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }


def metadata(model: ServedModel, requested: int | None) -> dict:
    loaded = model.version(requested)
    defs = {
        key: json_format.MessageToDict(d, preserving_proto_field_name=True, including_default_value_fields=True)
        for key, d in sorted(loaded.signature_defs.items())
        if not key.startswith("__")  # __saved_model_init_op is not a signature a client can call
    }
    return {
        "model_spec": {"name": model.config.name, "signature_name": "", "version": str(loaded.version)},
        "metadata": {"signature_def": {"signature_def": defs}},
    }


# /v1/models/<name>[/versions/<v>][/metadata | :predict]
_ROUTE = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[0-9]+))?(?P<tail>/metadata|:predict)?$")


class Handler(BaseHTTPRequestHandler):
    models: Models  # set on the subclass make_server builds
    protocol_version = "HTTP/1.1"  # keep-alive: a client's requests reuse one connection

    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
        pass  # one line per request would drown the server's own lines

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._answer(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._answer(self._post)

    def _get(self) -> tuple[HTTPStatus, dict | str]:
        if self.path.split("?")[0] in ("/", "/index.html"):
            return HTTPStatus.OK, page.html(sorted(self.models.by_name))
        model, version, tail = self._route()
        if tail == ":predict":
            raise RequestError(HTTPStatus.METHOD_NOT_ALLOWED, "predict takes POST")
        return HTTPStatus.OK, metadata(model, version) if tail == "/metadata" else status(model, version)

    def _post(self) -> tuple[HTTPStatus, dict]:
        model, version, tail = self._route()
        if tail != ":predict":
            raise RequestError(HTTPStatus.NOT_FOUND, f"Malformed request: POST {self.path}")
        return HTTPStatus.OK, predict(model.version(version), self._body())

    def _route(self) -> tuple[ServedModel, int | None, str | None]:
        match = _ROUTE.match(self.path.split("?")[0])
        if not match:
            raise RequestError(HTTPStatus.NOT_FOUND, f"Malformed request: {self.command} {self.path}")
        version = match["version"]
        return self.models.get(match["name"]), int(version) if version else None, match["tail"]

    def _body(self):
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise RequestError(HTTPStatus.BAD_REQUEST, "bad Content-Length") from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body over {MAX_BODY_BYTES} bytes")
        raw = self.rfile.read(length)
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"JSON Parse error: {err}") from None

    def _answer(self, route) -> None:
        try:
            code, payload = route()
        except RequestError as err:
            code, payload = err.status, {"error": str(err)}
        except Exception as err:  # anything unforeseen is this request's failure, never the server's
            code, payload = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": _first_line(err)}
        if isinstance(payload, str):
            self._send(code, payload.encode(), "text/html; charset=utf-8")
        else:
            self._send(code, json.dumps(payload).encode(), "application/json")

    def _send(self, code: HTTPStatus, data: bytes, content_type: str) -> None:
        if code >= 400 and self.command == "POST":
            self.close_connection = True  # the body may be unread: the connection's next bytes are not a request
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def make_server(models: Models, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("KestrelHandler", (Handler,), {"models": models})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
