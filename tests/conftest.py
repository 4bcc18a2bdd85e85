"""Shared, expensive fixtures: a prepared digits dataset and one trained model per session, an image task's
runs on the embedded shapes per module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# run_script is also named here for test files written before support.py, which import it from conftest.
from support import (  # noqa: F401
    ENGINES,
    REPO_ROOT,
    assert_report_written,
    finished_run,
    run_script,
    train_shapes_each_engine,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("NO_GCE_CHECK", "true")


def pytest_configure(config: pytest.Config) -> None:
    # Registered here, not in pyproject.toml: Bazel's runfiles hold this file but no pyproject.toml.
    from tools.gen_build import SIZES

    for size in SIZES:
        config.addinivalue_line("markers", f"{size}: Bazel's test size {size} (tools/gen_build.py reads it)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test carries its file's size marker, read as tools/gen_build.py reads it for Bazel.

    A file without ``pytestmark = pytest.mark.<size>`` still gets its layer's default, so
    ``pytest -m small`` runs what ``bazel test --test_size_filters=small`` runs.
    """
    import ast

    from tools.gen_build import test_size  # stdlib only: cheap, and the one reading of the marker

    sizes: dict[Path, str] = {}
    for item in items:
        path = Path(item.path).resolve()  # under Bazel, a link in the runfiles
        if path not in sizes:
            sizes[path] = test_size(path.relative_to(REPO_ROOT), ast.parse(path.read_text()))
        if item.get_closest_marker(sizes[path]) is None:  # else the file's pytestmark already says it
            item.add_marker(sizes[path])


@pytest.fixture(scope="session", autouse=True)
def gate_cache_home(tmp_path_factory) -> str:
    """The gate's verdict cache (~/.cache/kestrel/gate by default) in this session's own folder.

    Every scripts.train the tests start inherits it: the user's cache is left alone, and a
    verdict remembered in one session is never recalled in the next.
    """
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg_cache"))
    return os.environ["XDG_CACHE_HOME"]


@pytest.fixture(scope="session")
def tfds_data_dir(tmp_path_factory) -> str:
    """A TFDS data_dir with the digits dataset prepared (real TFRecords and DatasetInfo)."""
    from input_fns import tfds_source

    data_dir = str(tmp_path_factory.mktemp("tensorflow_datasets"))
    tfds_source.load_builder("digits", data_dir)
    return data_dir


@pytest.fixture(scope="session")
def digits_builder(tfds_data_dir):
    from input_fns import tfds_source

    return tfds_source.load_builder("digits", tfds_data_dir)


@pytest.fixture(scope="session")
def trained_digits(tfds_data_dir, tmp_path_factory):
    """The main flow run once for real with few steps: its RunSummary (model_dir, export)."""
    from common.params import DataParams, Hparams, OutputParams, TrainingParams
    from pipeline import train

    hp = Hparams(
        data=DataParams(data_dir=tfds_data_dir),
        training=TrainingParams(train_steps=300, eval_throttle_secs=0, progress_every_steps=100),
        output=OutputParams(model_dir=str(tmp_path_factory.mktemp("model_dir"))),
    )
    return train.run(hp)


@pytest.fixture(scope="module")
def digits_base(trained_digits, tmp_path_factory) -> Path:
    """A TF Serving base path holding the trained digits export as version 1 of the served model, in a folder of
    the test module's own (beside it: the servers' logs and config files)."""
    from serving_client import model_base  # imported here, as browser below: see there

    return model_base(trained_digits.export_path, tmp_path_factory.mktemp("served_digits"))


@pytest.fixture(scope="module")
def shapes_runs(request, tfds_data_dir, tmp_path_factory) -> dict:
    """Each engine's run of the test module's ``SHAPES_TASK`` (a ``support.ShapesTask``): an image task
    trained once per module on the embedded shapes."""
    return train_shapes_each_engine(tfds_data_dir, tmp_path_factory, request.module.SHAPES_TASK)


@pytest.fixture(params=ENGINES)
def shapes_report(request, shapes_runs) -> tuple:
    """``(run, report)`` of one engine's run in ``shapes_runs``, which every image task's report must pass:
    the run succeeded, its report is on the 200 test shapes, and it wrote the task's picture and page."""
    model_dir, run, report = finished_run(shapes_runs, request.param)
    assert report["examples"] == 200, report
    assert_report_written(model_dir, run, request.module.SHAPES_TASK.picture, request.module.SHAPES_TASK.gated)
    return run, report


@pytest.fixture(scope="session")
def hub_module(tmp_path_factory) -> str:
    """A small local SavedModel standing in for a TF-Hub image feature-vector module (32x32x3 -> 8)."""
    import tensorflow as tf

    inputs = tf.keras.Input((32, 32, 3))
    x = tf.keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="stub_conv")(inputs)
    x = tf.keras.layers.GlobalAveragePooling2D(name="stub_pool")(x)
    path = str(tmp_path_factory.mktemp("hub") / "feature_vector")
    tf.saved_model.save(tf.keras.Model(inputs, x), path)
    return path


@pytest.fixture
def browser(tmp_path):
    """(chromedriver port, session id) of a headless Chromium (tests/browser.py)."""
    # Imported here: conftest is also imported as tests.conftest by child processes, outside pytest's path.
    from browser import chromium_session

    with chromium_session(tmp_path) as session:
        yield session
