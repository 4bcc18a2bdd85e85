"""scripts.serve over real HTTP on loopback: TF Serving's REST shapes, bad requests, new and rolled-back
versions picked up live, a bounded load, and the page driven by headless chromium."""

import io
import json
import os
import re
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from browser import element, webdriver
from PIL import Image
from serving_client import MODEL, Server, model_args
from serving_client import b64 as _b64
from support import run_script

from benchmarks import serving_load

pytestmark = pytest.mark.large


@pytest.fixture(scope="module")
def server(trained_digits, digits_base):
    # A push under way and a rolled-back version: not numbers, never served (though newer).
    shutil.copytree(trained_digits.export_path, digits_base / ".incoming-7-123")
    shutil.copytree(trained_digits.export_path, digits_base / ".rolled_back" / "5")
    args = [*model_args(digits_base), "--file_system_poll_wait_seconds=0.2"]
    with Server(digits_base, args, digits_base.parent / "stderr.log") as server:
        yield server


@pytest.fixture(scope="module")
def digit(digits_builder, trained_digits, tmp_path_factory):
    """One test digit as PNG bytes and the class the SavedModel itself gives it."""
    image, _ = next(iter(tfds.as_numpy(digits_builder.as_dataset(split="test[:1]", as_supervised=True))))
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0]).save(buffer, format="PNG")
    png = buffer.getvalue()
    signature = tf.saved_model.load(trained_digits.export_path).signatures["serving_default"]
    out = signature(image_bytes=tf.constant([png]))
    path = tmp_path_factory.mktemp("digit") / "digit.png"
    path.write_bytes(png)
    return png, int(tf.argmax(out["probabilities"][0])), path


def _labels(server: Server) -> list[str]:
    return [line.strip() for line in (server.base / "1" / "assets.extra" / "labels.txt").open()]


def test_status_of_the_model_and_of_a_version(server):
    expected = {
        "model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }
    assert server.call("GET", f"/v1/models/{MODEL}") == (200, expected)
    assert server.call("GET", f"/v1/models/{MODEL}/versions/1") == (200, expected)


def test_metadata_lists_the_signatures_with_dtypes_and_shapes(server):
    code, answer = server.call("GET", f"/v1/models/{MODEL}/metadata")
    assert code == 200
    assert answer["model_spec"] == {"name": MODEL, "signature_name": "", "version": "1"}
    default = answer["metadata"]["signature_def"]["signature_def"]["serving_default"]
    image_bytes = default["inputs"]["image_bytes"]
    assert image_bytes["dtype"] == "DT_STRING"
    assert image_bytes["tensor_shape"]["dim"] == [{"size": "-1", "name": ""}]
    assert default["outputs"]["probabilities"]["dtype"] == "DT_FLOAT"
    assert default["outputs"]["class_names"]["dtype"] == "DT_STRING"
    assert default["method_name"] == "tensorflow/serving/predict"


def test_predict_rows_and_columns_agree_with_the_saved_model(server, digit):
    png, expected, _ = digit
    code, rows = server.post(
        f"/v1/models/{MODEL}:predict", {"signature_name": "serving_default", "instances": [{"image_bytes": _b64(png)}]}
    )
    assert code == 200, rows
    row = rows["predictions"][0]
    probabilities = row["probabilities"]
    assert probabilities.index(max(probabilities)) == expected
    assert row["class_names"] == _labels(server)[expected]  # strings as text, not {"b64": ...}

    code, columns = server.post(f"/v1/models/{MODEL}/versions/1:predict", {"inputs": {"image_bytes": [_b64(png)]}})
    assert code == 200, columns
    assert columns["outputs"]["probabilities"][0] == pytest.approx(probabilities, abs=1e-6)
    # The one input need not be named in the row format either.
    assert server.post(f"/v1/models/{MODEL}:predict", {"instances": [_b64(png)]})[1] == rows


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "JSON Parse error"),
        (json.dumps({"instances": [{"image_bytes": {"b64": "%%%"}}]}).encode(), "base64"),
        (json.dumps({"instances": [{"image_bytes": _b64(b"not an image")}]}).encode(), "image"),
        (json.dumps({"signature_name": "nope", "instances": []}).encode(), "nope"),
        (json.dumps({"instances": [{"pixels": [1]}]}).encode(), "image_bytes"),
        (json.dumps({"rows": []}).encode(), "instances"),
    ],
)
def test_a_bad_request_is_400_with_an_error_and_the_server_keeps_serving(server, digit, body, fragment):
    code, answer = server.call("POST", f"/v1/models/{MODEL}:predict", body)
    assert code == 400
    assert fragment in answer["error"]
    assert server.post(f"/v1/models/{MODEL}:predict", {"instances": [_b64(digit[0])]})[0] == 200


def test_unknown_model_or_version_is_404_with_tf_servings_message(server):
    assert server.call("GET", "/v1/models/nope") == (404, {"error": "Could not find any versions of model nope"})
    assert server.call("GET", f"/v1/models/{MODEL}/versions/9") == (
        404,
        {"error": f"Could not find version 9 of model {MODEL}"},
    )
    assert server.call("GET", "/v1/models/nope/metadata") == (
        404,
        {"error": "Servable not found for request: Latest(nope)"},
    )
    assert server.post("/v1/models/nope:predict", {"instances": []}) == (
        404,
        {"error": "Servable not found for request: Latest(nope)"},
    )


def test_load_drops_nothing(server, digit, tmp_path):
    body = serving_load.predict_body(str(digit[2]))
    lines: list[str] = []
    record = serving_load.run(
        f"{server.url}/v1/models/{MODEL}:predict", body, requests=200, threads=4, say=lines.append
    )
    print(serving_load.summary(record))
    assert re.match(r"requests 200/200 \(100%\)  [\d,.]+ requests/(?:sec|min)  time left 0:00$", lines[-1]), lines
    serving_load.write(record, str(tmp_path))
    assert record["statuses"] == {"200": 200}
    assert (tmp_path / "serving_load.png").stat().st_size > 0


def _wait_for_version(server: Server, version: str) -> None:
    deadline = time.monotonic() + 120  # a bound for a slow CI machine, not a speed requirement
    while server.serving() != version:
        assert time.monotonic() < deadline, f"version {version} never served"
        time.sleep(0.2)


def test_a_pushed_version_is_served_and_a_rollback_returns_to_the_old_one(server, digit):
    shutil.copytree(server.base / "1", server.base / ".incoming-2")
    os.rename(server.base / ".incoming-2", server.base / "2")  # push.py's atomic rename
    _wait_for_version(server, "2")
    assert server.post(f"/v1/models/{MODEL}/versions/2:predict", {"instances": [_b64(digit[0])]})[0] == 200
    shutil.rmtree(server.base / "2")
    _wait_for_version(server, "1")
    assert server.post(f"/v1/models/{MODEL}/versions/2:predict", {"instances": [_b64(digit[0])]}) == (
        404,
        {"error": f"Servable not found for request: Specific({MODEL}, 2)"},
    )
    # TF Serving's status lists every version it has seen, newest first; the unloaded one END.
    assert [
        (v["version"], v["state"]) for v in server.call("GET", f"/v1/models/{MODEL}")[1]["model_version_status"]
    ] == [
        ("2", "END"),
        ("1", "AVAILABLE"),
    ]


def test_model_config_file_serves_each_named_model(trained_digits, tmp_path):
    base = tmp_path / "b"
    shutil.copytree(trained_digits.export_path, base / "3")
    config = tmp_path / "models.config"
    config.write_text(
        "model_config_list {\n"
        "  # two names over one directory\n"
        f'  config {{ name: "first" base_path: "{base}" model_platform: "tensorflow" }}\n'
        f'  config: {{ name: "second" base_path: "{base}" }}\n'
        "}\n"
    )
    with Server(base, [f"--model_config_file={config}"], tmp_path / "stderr.log") as served:
        for name in ("first", "second"):
            with urllib.request.urlopen(f"{served.url}/v1/models/{name}", timeout=60) as response:
                assert json.load(response)["model_version_status"][0]["version"] == "3"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        ([], "error: --model_base_path: name the folder"),
        (["--model_base_path=/no/such/dir"], "error: --model_base_path: no folder '/no/such/dir'"),
        (["--model_config_file=/no/such.config"], "error: --model_config_file: cannot read"),
        (["--model_base_path=.", "--rest_api_port=70000"], "error: flag --rest_api_port=70000"),
        (["--model_base_path=.", "--rest_api_host="], "error: --rest_api_host: empty would listen on every interface"),
        (["--model_base_path=.", "--batching_parameters_file=/x"], "error: --batching_parameters_file: has no effect"),
        (
            ["--model_base_path=.", "--enable_batching", "--batching_parameters_file=/no/such"],
            "error: --batching_parameters_file: cannot read '/no/such'",
        ),
    ],
)
def test_bad_flags_are_one_line(args, line):
    result = run_script("scripts.serve", *args, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().startswith(line), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_unsupported_batching_parameter_is_one_line(tmp_path):
    params = tmp_path / "batching.config"
    params.write_text("max_batch_size { value: 8 }\nmax_enqueued_batches { value: 100 }\n")
    result = run_script(
        "scripts.serve", "--model_base_path=.", "--enable_batching", f"--batching_parameters_file={params}"
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --batching_parameters_file: unsupported field 'max_enqueued_batches'; "
        "allowed: max_batch_size, batch_timeout_micros, num_batch_threads"
    )


def test_bad_model_config_file_is_one_line(tmp_path):
    config = tmp_path / "bad.config"
    config.write_text('model_config_list { config { name: "x" base_path: "/tmp" model_platform: "pytorch" } }')
    result = run_script("scripts.serve", f"--model_config_file={config}", timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --model_config_file: model_platform 'pytorch'; allowed: tensorflow"


# ---- the page, in headless chromium (tests/browser.py) -------------


def test_the_page_uploads_an_image_and_shows_the_top_class(server, digit, browser):
    port, session = browser
    webdriver(port, "POST", f"/session/{session}/url", {"url": server.url + "/"})
    file_input = element(port, session, "#file")
    webdriver(port, "POST", f"/session/{session}/element/{file_input}/value", {"text": str(digit[2])})
    status = element(port, session, "#status")
    deadline = time.monotonic() + 60
    while not (text := webdriver(port, "GET", f"/session/{session}/element/{status}/text")).startswith("top class"):
        assert time.monotonic() < deadline, f"no prediction shown: {text!r}"
        time.sleep(0.2)
    labels = _labels(server)
    assert text == f"top class: {labels[digit[1]]}"
    script = (
        "const rows = [...document.querySelectorAll('#result tr.top')].map(r => [...r.cells].map(c => c.textContent));"
        "const box = document.getElementById('preview').getBoundingClientRect();"
        "return {rows: rows, width: box.width, height: box.height};"
    )
    shown = webdriver(port, "POST", f"/session/{session}/execute/sync", {"script": script, "args": []})
    assert len(shown["rows"]) == 3
    for class_id, name, _ in shown["rows"]:  # every row names its class, not only the top one
        assert name == labels[int(class_id)], shown["rows"]
    assert shown["width"] >= 100 and shown["height"] >= 100, shown  # an 8x8 digit, shown at a visible size


def test_the_benchmark_table_marks_each_target_met_or_not(tmp_path):
    """The suite's report from a record: a missed target says NOT MET beside its figure; JSON and PNG written."""

    def load(rate: float, p50: float, requests: int = 300, statuses: dict | None = None) -> dict:
        return {
            "requests": requests,
            "requests_per_second": rate,
            "latency_ms": {"p50": p50, "p95": p50, "p99": p50},
            "statuses": statuses or {"200": requests},
        }

    record = {
        "in_process": {"calls_per_second": 1000.0, "p50_ms": 0.9},
        "one_connection": load(700.0, 1.2),
        "four_threads": load(900.0, 4.0),
        "fifty_clients": load(500.0, 20.0, statuses={"200": 299, "ConnectionResetError": 1}),
        "half_open": {
            "connections": 400,
            "server_threads": [40, 40],
            "server_rss_mb": [500.0, 501.0],
            "good_client_p50_ms": 3.0,
            "good_client_max_ms": 20.0,
        },
        "batching_off": load(600.0, 50.0),
        "batching_on": load(1300.0, 25.0),
        "workers_off": load(800.0, 40.0),
        "workers_on": load(1200.0, 27.0),
    }
    record["rows"] = serving_load._rows(record)
    verdicts = {row[0]: row[3] for row in record["rows"]}
    assert verdicts == {
        "in-process signature": "",
        "1 keep-alive connection": "met",
        "4 threads": "NOT MET",
        "50 clients x 6": "NOT MET",
        "400 half-open": "met",
        "batching on vs off (32 clients)": "met",
        "batching on vs off, 2 workers": "NOT MET",
    }
    assert "(0.70x)" in serving_load.table(record["rows"])
    json_path, png_path = serving_load.write_suite(record, str(tmp_path))
    assert json.loads(Path(json_path).read_text())["rows"] == record["rows"]
    assert Path(png_path).stat().st_size > 0
