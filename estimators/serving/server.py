"""TF Serving's REST API over kestrel's SavedModels, as a WSGI application (served by http_server.py).

Routes are TF Serving 2.15's (tensorflow_serving/model_servers/http_rest_api_util.cc), matched
case-insensitively: ``GET /v1/models/<name>[/versions/<v> | /labels/<l>][/metadata]`` and
``POST /v1/models/<name>[/versions/<v> | /labels/<l>]:(predict|classify|regress)``. Answers and
errors follow https://www.tensorflow.org/tfx/serving/api_rest; errors are ``{"error": "..."}`` with
TF Serving's status codes. The page at ``/`` tries an image (page.py).
"""

from __future__ import annotations

import json
import re
import threading
from http import HTTPStatus

import numpy as np
import tensorflow as tf
from google.protobuf import json_format

from estimators.serving import classify_regress, page, rest_json
from estimators.serving.batching import Batcher, BatchingParameters
from estimators.serving.rest_errors import RequestError, invalid, not_found
from estimators.serving.versions import LoadedVersion, Models, ServedModel

_SPEC = r"(?:(?:/versions/(?P<version>\d+))|(?:/labels/(?P<label>[^/:]+)))?"
_PREDICT = re.compile(rf"/v1/models/(?P<name>[^/:]+){_SPEC}:(?P<method>classify|regress|predict)", re.I | re.A)
_STATUS = re.compile(rf"/v1/models(?:/(?P<name>[^/:]+))?{_SPEC}(?:/(?P<sub>metadata))?", re.I | re.A)
_INT64_MAX = (1 << 63) - 1


class Route:
    """What a request's path names: the model, which version (number or label), and the call."""

    def __init__(self, match: re.Match, method: str | None = None):
        self.name = match["name"] or ""
        self.version = _version(match["version"])
        self.label = match["label"]
        self.call = method


def _version(text: str | None) -> int | None:
    if text is None:
        return None
    if len(text) > 19 or int(text) > _INT64_MAX:  # absl::SimpleAtoi's int64 range
        raise invalid(f"Failed to convert version: {text} to numeric.")
    return int(text)


class ServingApp:
    """The WSGI application: one instance holds the models (and their batchers) for the process."""

    def __init__(self, models: Models, batching: BatchingParameters | None = None):
        self.models = models
        self.batching = batching
        self._batchers: dict[tuple[int, str], tuple[LoadedVersion, Batcher]] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response):
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        try:
            if method == "GET" and path in ("/", "/index.html"):
                return _reply(
                    start_response, HTTPStatus.OK, page.html(sorted(self.models.by_name)).encode(), "text/html"
                )
            code, payload = HTTPStatus.OK, self._dispatch(method, path, environ)
        except RequestError as err:
            code, payload = err.status, {"error": str(err)}
        except Exception as err:  # anything unforeseen is this request's failure, never the server's
            code, payload = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": _op_message(err)}
        return _reply(start_response, code, json.dumps(payload).encode(), "application/json")

    def _page(self) -> bytes:
        labels = {name: m.current.labels if m.current else [] for name, m in self.models.by_name.items()}
        return page.html(labels).encode()

    def _dispatch(self, method: str, path: str, environ: dict) -> dict:
        malformed = invalid(f"Malformed request: {method} {path}")
        if not re.match(r"/v1/", path, re.I):
            raise not_found(f"Malformed request: {method} {path}")  # outside TF Serving's handler: 404
        if method == "POST" and (match := _PREDICT.fullmatch(path)):
            route = Route(match, match["method"])
            if route.call not in (
                "predict",
                "classify",
                "regress",
            ):  # (?i) matched ":PREDICT"; TF Serving compares exactly
                raise malformed
            body = rest_json.require_object(rest_json.parse_body(_read(environ)))
            return self._post(route, body)
        if method == "GET" and (match := _STATUS.fullmatch(path)):
            route = Route(match, "metadata" if match["sub"] == "metadata" else "status")
            if not route.name:
                raise invalid("Missing model name in request.")
            return self._status(route) if route.call == "status" else self._metadata(route)
        raise malformed

    # ---- GET -------------------------------------------------------------------------------------

    def _model(self, route: Route) -> ServedModel:
        model = self.models.get(route.name)
        if model is None:
            raise not_found(f"Servable not found for request: Latest({route.name})")
        return model

    def _resolve(self, route: Route) -> LoadedVersion:
        model = self._model(route)
        version = model.label_version(route.label) if route.label is not None else route.version
        return model.serving(version)

    def _status(self, route: Route) -> dict:
        model = self.models.get(route.name)
        if model is None:
            raise not_found(f"Could not find any versions of model {route.name}")
        return model.status(route.version)  # TF Serving's GetModelStatus ignores a label

    def _metadata(self, route: Route) -> dict:
        loaded = self._resolve(route)
        defs = {
            key: json_format.MessageToDict(d, preserving_proto_field_name=True, including_default_value_fields=True)
            for key, d in sorted(loaded.signature_defs.items())
        }
        return {
            "model_spec": {"name": route.name, "signature_name": "", "version": str(loaded.version)},
            "metadata": {"signature_def": {"signature_def": defs}},
        }

    # ---- POST ------------------------------------------------------------------------------------

    def _post(self, route: Route, body: dict) -> dict:
        if route.call == "predict":
            loaded = self._resolve(route)
            name = rest_json.signature_name(body)
            if name not in loaded.signatures:
                raise invalid(f'Serving signature name: "{name}" not found in signature def')
            request = rest_json.predict_request(body, loaded.input_specs(name))
            return rest_json.predict_answer(self._predict(loaded, request), request.rows)
        serialized = classify_regress.examples(body, route.call)
        loaded = self._resolve(route)
        name = rest_json.signature_name(body)
        signature_def = loaded.signature_defs.get(name)
        if signature_def is None or name not in loaded.signatures:
            raise invalid(f"No signature was found with the name: {name}")
        classify_regress.check_method(signature_def, route.call)
        input_name = next(iter(loaded.input_specs(name)))
        outputs = _call(loaded, name, {input_name: np.array(serialized, dtype=object)})
        return classify_regress.results(outputs, route.call)

    def _predict(self, loaded: LoadedVersion, request: rest_json.PredictRequest) -> dict:
        """The outputs as JSON values (rest_json.output_values)."""
        name = request.signature_name
        batcher = self._batcher(loaded, name) if request.batch_size is not None else None
        if batcher is None:
            return rest_json.output_values(_call(loaded, name, request.inputs))
        return batcher.run(request.inputs, request.batch_size)

    def _batcher(self, loaded: LoadedVersion, name: str) -> Batcher | None:
        """The signature's batcher when batching is on and every input is batch-major; one per loaded version."""
        specs = loaded.input_specs(name)
        if self.batching is None or any(s.shape.rank in (None, 0) or s.shape[0] is not None for s in specs.values()):
            return None
        key = (id(loaded), name)
        with self._lock:
            entry = self._batchers.get(key)
            if entry is None or entry[0] is not loaded:
                self._close_replaced()
                # A batch's outputs become JSON values once, in the batch thread, not once a request.
                call = lambda inputs: rest_json.output_values(_call(loaded, name, inputs))  # noqa: E731
                entry = (loaded, Batcher(call, self.batching))
                self._batchers[key] = entry
            return entry[1]

    def _close_replaced(self) -> None:
        """A replaced version's batch threads end once idle."""
        served = {id(m.current) for m in self.models.by_name.values() if m.current is not None}
        for key, (old, batcher) in list(self._batchers.items()):
            if id(old) not in served:
                batcher.close()
                del self._batchers[key]


def _call(loaded: LoadedVersion, name: str, inputs: dict) -> dict:
    """Run one signature on checked inputs; a graph error (an image that does not decode) is a 400."""
    try:
        return loaded.call(name, inputs)
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as err:
        raise invalid(_op_message(err)) from None


def _op_message(err: Exception) -> str:
    from estimators.serving.predict import op_message  # the graph error's line that says what is wrong

    return op_message(getattr(err, "message", None) or str(err))


def _read(environ: dict) -> bytes:
    """The body, which the HTTP server has already read whole and bounded (http_server's max body size)."""
    stream = environ.get("wsgi.input")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise invalid("bad Content-Length") from None
    return stream.read(length) if stream is not None and length > 0 else b""


def _reply(start_response, code: HTTPStatus, data: bytes, content_type: str) -> list[bytes]:
    start_response(
        f"{code.value} {code.phrase}",
        [("Content-Type", content_type), ("Content-Length", str(len(data)))],
    )
    return [data]
