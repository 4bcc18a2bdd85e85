"""TensorBoard shows the three engines' runs on one chart per tag (docs/estimators.md, "TensorBoard").

One short run per engine, through ``python -m scripts.train`` (the TPUEstimator with --nouse_tpu),
into sibling model_dirs; then the real ``tensorboard --logdir=<parent>`` is started and read through
its HTTP data API, as its dashboard reads it: training scalars in the run ``<engine>``, validation in
``<engine>/eval``, the test evaluation in ``<engine>/eval_test``, each under the same tag in every
engine, with finite values.
"""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from browser import webdriver
from support import REPO_ROOT, free_port, train

pytestmark = pytest.mark.medium

ENGINES = ("estimator", "keras", "tpu_estimator")
ENGINE_ARGS = {"tpu_estimator": ("--strategy=tpu", "--nouse_tpu", "--iterations_per_loop=2")}
STEPS = 6
# Training: every save_summary_steps (1) step. Validation: at the checkpoint and the end.
TRAIN_TAGS = ("loss", "accuracy", "learning_rate", "examples_per_sec")
EVAL_TAGS = ("loss", "accuracy")


def _train(data_dir: str, model_dir: Path, engine: str) -> None:
    result = train(
        data_dir,
        model_dir,
        f"--engine={engine}",
        "--novalidate_data",
        "--noreport",
        f"--train_steps={STEPS}",
        "--save_summary_steps=1",
        # The Estimators' step-rate hooks every step: TPUEstimator's own would write examples/sec.
        "--progress_every_steps=1",
        *ENGINE_ARGS.get(engine, ()),
        "--eval_throttle_secs=0",
        "--validation_split=train[:32]",
        "--test_split=test[:32]",
    )
    assert result.returncode == 0, f"{engine}: exit {result.returncode}\n{result.stderr[-3000:]}"


class _Board:
    """A running TensorBoard's data API (what its dashboard fetches)."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, **query: str):
        url = f"{self.base}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  (a local http URL)
            return json.load(response)

    def tags(self) -> dict[str, set[str]]:
        return {run: set(tags) for run, tags in self.get("/data/plugin/scalars/tags").items()}

    def values(self, run: str, tag: str) -> dict[int, float]:
        # Each point is [wall_time, step, value].
        return {step: value for _, step, value in self.get("/data/plugin/scalars/scalars", run=run, tag=tag)}


def _event_dirs(parent: Path) -> set[str]:
    """The runs TensorBoard should list: every folder under ``parent`` holding an event file."""
    return {path.parent.relative_to(parent).as_posix() for path in parent.rglob("events.out.tfevents.*")}


def _wait_until_loaded(board: _Board, process: subprocess.Popen, runs: set[str]) -> dict[str, set[str]]:
    """Poll until TensorBoard answers with every run and the same tags twice (it loads in the background)."""
    previous: dict[str, set[str]] | None = None
    for _ in range(240):
        assert process.poll() is None, f"tensorboard exited {process.returncode}"
        try:
            seen = board.tags()
        except OSError:  # not listening yet
            seen = None
        if seen is not None and runs <= set(seen) and seen == previous:
            return seen
        previous = seen
        time.sleep(0.5)
    raise AssertionError(f"tensorboard did not load the runs {sorted(runs)}; it has {previous}")


@pytest.fixture(scope="module")
def board(tfds_data_dir, tmp_path_factory):
    parent = tmp_path_factory.mktemp("runs")
    for engine in ENGINES:
        _train(tfds_data_dir, parent / engine, engine)
    port = free_port()
    command = [sys.executable, "-m", "tensorboard.main", f"--logdir={parent}", "--host=127.0.0.1"]
    command += [f"--port={port}", "--load_fast=false", "--reload_interval=1"]
    log = (parent.parent / "tensorboard.log").open("w+")  # a file, not a pipe: a full pipe would block it
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        board = _Board(port)
        yield board, _wait_until_loaded(board, process, _event_dirs(parent))
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_tensorboard_lists_one_training_and_one_validation_run_per_engine(board):
    api, _ = board
    runs = set(api.get("/data/runs"))
    assert {f"{engine}{run}" for engine in ENGINES for run in ("", "/eval", "/eval_test")} <= runs, runs


@pytest.mark.parametrize("engine", ENGINES)
def test_training_scalars_share_the_tags_and_are_finite_every_summary_step(board, engine):
    api, tags = board
    assert set(TRAIN_TAGS) <= tags.get(engine, set()), tags
    for tag in ("loss", "accuracy", "learning_rate"):
        values = api.values(engine, tag)
        assert sorted(values) == list(range(1, STEPS + 1)), (engine, tag, values)
        assert all(math.isfinite(v) for v in values.values()), (engine, tag, values)
    assert all(0.0 <= v <= 1.0 for v in api.values(engine, "accuracy").values())
    rates = api.values(engine, "examples_per_sec")
    assert rates and all(math.isfinite(v) and v > 0 for v in rates.values()), (engine, rates)


@pytest.mark.parametrize("engine", ENGINES)
def test_validation_scalars_share_the_tags_and_are_finite(board, engine):
    api, tags = board
    assert set(EVAL_TAGS) <= tags.get(f"{engine}/eval", set()), tags
    for tag in EVAL_TAGS:
        values = api.values(f"{engine}/eval", tag)
        assert STEPS in values and all(math.isfinite(v) for v in values.values()), (engine, tag, values)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_test_evaluation_is_in_eval_test_at_the_last_step(board, engine):
    api, tags = board
    assert tags.get(f"{engine}/eval_test") == set(EVAL_TAGS), tags
    for tag in EVAL_TAGS:
        values = api.values(f"{engine}/eval_test", tag)
        assert list(values) == [STEPS] and math.isfinite(values[STEPS]), (engine, tag, values)


def test_no_engine_writes_a_tag_the_others_do_not(board):
    # One chart per tag: a tag only one engine writes (loss_1, loss_2, examples/sec, epoch_loss) is a chart of its own.
    _, tags = board
    scalars = {run: {t for t in found if not t.startswith("sample_images")} for run, found in tags.items()}
    assert scalars.get("estimator", set()) - {"global_step/sec"} == scalars.get("keras"), scalars
    assert scalars.get("keras") == scalars.get("tpu_estimator"), scalars
    for run in ("eval", "eval_test"):
        assert scalars.get(f"estimator/{run}") == scalars.get(f"keras/{run}") == scalars.get(f"tpu_estimator/{run}")


def test_the_scalars_dashboard_renders_both_engines_in_chromium(board, browser, tmp_path):
    # What a user opens: the time-series dashboard lists both engines' runs and draws a card per tag.
    data, _ = board
    port, session = browser
    webdriver(port, "POST", f"/session/{session}/url", {"url": f"{data.base}/#timeseries"})
    text = ""
    deadline = time.monotonic() + 90
    wanted = ("estimator", "keras", "tpu_estimator", "eval", "loss", "accuracy", "learning_rate", "examples_per_sec")
    while not all(word in text for word in wanted):
        assert time.monotonic() < deadline, f"the dashboard never showed {wanted}: {text[:2000]!r}"
        time.sleep(1)
        text = webdriver(port, "POST", f"/session/{session}/execute/sync", {"script": _PAGE_TEXT, "args": []})
    assert not [tag for tag in ("loss_1", "loss_2", "examples/sec", "epoch_loss", "batch_loss") if tag in text], text
    shot = tmp_path / "tensorboard.png"
    shot.write_bytes(base64.b64decode(webdriver(port, "GET", f"/session/{session}/screenshot")))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# The dashboard's text: run names in the selector, tag names on the cards.
_PAGE_TEXT = "return document.body ? document.body.innerText : ''"
