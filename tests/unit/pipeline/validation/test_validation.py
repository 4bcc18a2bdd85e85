"""The validation gate on generated spans, with real Beam (DirectRunner in_memory) and TFDV."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import tensorflow_data_validation as tfdv
import validation_spans as spans
from tensorflow_metadata.proto.v0 import schema_pb2

from common.errors import UsageError
from pipeline.validation import gate, readers, schema, statistics
from pipeline.validation.config import (
    AUTO_MULTI_PROCESSING_BYTES,
    RunnerOptions,
    Thresholds,
    ValidationConfig,
    resolve_running_mode,
)

pytestmark = pytest.mark.medium

FAST = RunnerOptions(direct_running_mode="in_memory")
ROWS = 1500


def config(artifacts: Path, data, **kw) -> ValidationConfig:
    return ValidationConfig(data=tuple(map(str, data)), artifacts_dir=str(artifacts), runner=FAST, **kw)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Every span the tests read, generated once."""
    root = tmp_path_factory.mktemp("spans")
    spans.write_tfrecord(root / "span0.tfrecord", spans.rows(ROWS, seed=0))
    spans.write_tfrecord(root / "clean.tfrecord", spans.rows(ROWS, seed=1))
    spans.write_tfrecord(root / "shifted.tfrecord", spans.rows(ROWS, seed=2, shift=3.0))
    spans.write_tfrecord(root / "new_value.tfrecord", spans.rows(ROWS, seed=3, new_category="zebra"))
    spans.write_tfrecord(root / "missing.tfrecord", spans.rows(ROWS, seed=4), drop="n")
    spans.write_tfrecord(root / "wrong_type.tfrecord", spans.rows(ROWS, seed=5), as_string="x")
    spans.write_tfrecord(root / "serving.tfrecord", spans.rows(600, seed=6, label=False))
    spans.write_tfrecord(root / "garbage.tfrecord", spans.rows(300, seed=7), garbage_records=3)
    spans.write_tfrecord(root / "empty.tfrecord", [])
    return root


@pytest.fixture(scope="module")
def baseline(data_dir, tmp_path_factory):
    """Span 0 validated once: the schema is inferred from it and it is the drift baseline."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    result = gate.run_gate(config(artifacts, [data_dir / "span0.tfrecord"], span=0))
    return artifacts, result


def _schema_text(artifacts: Path) -> str:
    return (artifacts / "schema.pbtxt").read_text()


def test_first_span_infers_a_curated_schema(baseline):
    artifacts, result = baseline
    assert result.clean and result.exit_code == 0 and result.schema_action == "inferred"
    assert result.num_examples == {"data": ROWS}
    curated = tfdv.load_schema_text(str(artifacts / "schema.pbtxt"))
    features = {f.name: f for f in curated.feature}
    assert set(features) == {"x", "n", "c", "label"}
    assert list(curated.default_environment) == ["TRAINING", "SERVING"]
    label = features["label"]
    assert list(label.not_in_environment) == ["SERVING"]
    assert label.int_domain.is_categorical and (label.int_domain.min, label.int_domain.max) == (0, 2)
    assert features["x"].shape.dim[0].size == 1
    assert set(tfdv.get_domain(curated, "c").value) == set(spans.CATEGORIES)
    # Comparators live in the configuration, not in the curated file.
    assert not features["x"].HasField("drift_comparator")
    for name in ("statistics", "anomalies", "anomalies_table", "report_html", "result_json"):
        assert Path(result.paths[name]).is_file(), name
    html = Path(result.paths["report_html"]).read_text()
    assert "CLEAN" in html and "<svg" in html and "label" in html
    recorded = json.loads(Path(result.paths["result_json"]).read_text())
    assert recorded["passed"] and recorded["span"] == 0 and recorded["environment"] == "TRAINING"


def test_clean_span_passes_with_drift_measured(baseline, data_dir):
    artifacts, _ = baseline
    before = _schema_text(artifacts)
    result = gate.run_gate(config(artifacts, [data_dir / "clean.tfrecord"], span=1))
    assert result.clean, result.summary
    assert result.exit_code == 0 and result.previous_span == 0 and result.schema_action == "loaded"
    measured = {(m.feature, m.metric) for m in result.measurements if m.kind == "drift"}
    assert {("x", "Jensen-Shannon"), ("n", "Jensen-Shannon"), ("c", "L-infinity"), ("label", "L-infinity")} <= measured
    assert not any(m.flagged for m in result.measurements)
    assert _schema_text(artifacts) == before


def test_shift_of_three_std_is_drift(baseline, data_dir):
    artifacts, _ = baseline
    result = gate.run_gate(config(artifacts, [data_dir / "shifted.tfrecord"], span=5))
    assert not result.clean and result.exit_code == gate.DATA_REJECTED_EXIT
    assert [f.feature for f in result.drift] == ["x"]
    assert "Jensen-Shannon" in result.drift[0].description
    assert not result.anomalies
    x = next(m for m in result.measurements if m.feature == "x" and m.kind == "drift")
    assert x.flagged and x.value > 0.5
    assert "REFUSED" in result.summary and "drift" in Path(result.paths["anomalies_table"]).read_text()
    # A refused span is no baseline: the next span is still compared with the last accepted one.
    assert gate.previous_accepted_span(str(artifacts), 6, "TRAINING") != 5
    # A per-feature threshold from the configuration turns that check off.
    with pytest.raises(gate.DataRejectedError, match="refused span 5"):
        gate.enforce(result)
    lenient = Thresholds(drift_overrides=(("x", 0.0),))
    compared = schema.with_comparators(tfdv.load_schema_text(result.paths["schema"]), lenient)
    assert not tfdv.get_feature(compared, "x").HasField("drift_comparator")


@pytest.mark.parametrize(
    "span_file,feature,reason",
    [
        ("new_value.tfrecord", "c", "values missing from the schema: zebra"),
        ("missing.tfrecord", "n", "Column is completely missing"),
        ("wrong_type.tfrecord", "x", "Expected data of type: FLOAT"),
    ],
)
def test_schema_anomalies(baseline, data_dir, span_file, feature, reason):
    artifacts, _ = baseline
    before = _schema_text(artifacts)
    result = gate.run_gate(config(artifacts, [data_dir / span_file], span=10, previous_statistics=None))
    assert result.exit_code == gate.DATA_REJECTED_EXIT
    assert feature in {f.feature for f in result.anomalies}, result.summary
    assert any(reason in f.description for f in result.anomalies), result.summary
    anomalies = tfdv.load_anomalies_text(result.paths["anomalies"])
    assert feature in anomalies.anomaly_info
    assert _schema_text(artifacts) == before  # never silently overwritten


def test_serving_span_without_labels_passes_in_serving(baseline, data_dir):
    artifacts, _ = baseline
    serving = data_dir / "serving.tfrecord"
    result = gate.run_gate(config(artifacts, [serving], span=20, environment="SERVING"))
    assert result.clean, result.summary
    # The same data in TRAINING is missing its label.
    training = gate.run_gate(config(artifacts, [serving], span=21))
    assert "label" in {f.feature for f in training.anomalies}


def test_skew_between_training_and_serving(baseline, data_dir):
    artifacts, _ = baseline
    result = gate.run_gate(
        config(
            artifacts,
            [data_dir / "clean.tfrecord"],
            span=30,
            serving_data=(str(data_dir / "shifted.tfrecord"),),
            previous_statistics=str(Path(baseline[1].paths["statistics"])),
        )
    )
    assert [f.feature for f in result.skew] == ["x"]
    assert not result.drift
    assert Path(result.paths["serving_statistics"]).is_file() and Path(result.paths["serving_anomalies"]).is_file()
    skewed = {m.feature for m in result.measurements if m.kind == "skew"}
    assert "label" not in skewed and "x" in skewed  # no skew on a feature absent in serving


def test_allow_anomalies_passes_and_is_recorded(baseline, data_dir):
    artifacts, _ = baseline
    result = gate.run_gate(config(artifacts, [data_dir / "new_value.tfrecord"], span=40, allow_anomalies=True))
    assert not result.clean and result.passed and result.exit_code == 0
    assert "allowed by --allow_anomalies" in result.summary
    recorded = json.loads(Path(result.paths["result_json"]).read_text())
    assert recorded["allowed_despite_findings"] is True and recorded["findings"]
    assert gate.enforce(result) is result


def test_update_schema_is_explicit(data_dir, tmp_path):
    gate.run_gate(config(tmp_path, [data_dir / "span0.tfrecord"]))
    refused = gate.run_gate(config(tmp_path, [data_dir / "new_value.tfrecord"]))
    assert refused.span == 1 and not refused.clean
    # The new value also moves c's frequencies (drift); this test is about the schema.
    no_drift = Thresholds(categorical_drift=0.0)
    updated = gate.run_gate(
        config(tmp_path, [data_dir / "new_value.tfrecord"], update_schema=True, thresholds=no_drift)
    )
    # The refused attempt used up no span number: the accepted one takes it.
    assert updated.span == 1 and updated.schema_action == "updated" and updated.clean, updated.summary
    assert "zebra" in tfdv.get_domain(tfdv.load_schema_text(updated.paths["schema"]), "c").value
    assert len(list(tmp_path.glob("schema.pbtxt.*.bak"))) == 1


def test_unparseable_records_are_counted(baseline, data_dir):
    artifacts, _ = baseline
    result = gate.run_gate(config(artifacts, [data_dir / "garbage.tfrecord"], span=50, max_bad_record_fraction=0.0))
    assert result.bad_record_counts["data"] == {readers.UNPARSEABLE_RECORD: 3}
    assert not result.clean and "3 of 303 records could not be read" in result.bad_records[0].description
    samples = json.loads(Path(result.paths["bad_records"]).read_text())["samples"]
    assert len(samples) == 3 and samples[0]["kind"] == readers.UNPARSEABLE_RECORD
    tolerated = gate.run_gate(config(artifacts, [data_dir / "garbage.tfrecord"], span=51))  # 1% < the default 5%
    assert not tolerated.bad_records and "3 bad records" in tolerated.summary


def test_csv_malformed_lines_are_counted_not_dropped(tmp_path):
    data = spans.write_csv(
        tmp_path / "span.csv",
        spans.rows(400, seed=8),
        malformed_lines=("1.0,2,a", "1.0,2,a,1,extra", '"unterminated,1,2,3'),
    )
    result = gate.run_gate(config(tmp_path / "artifacts", [data], max_bad_record_fraction=0.0))
    assert result.num_examples == {"data": 400}
    assert result.bad_record_counts["data"] == {readers.MALFORMED_CSV_LINE: 3}, result.summary
    assert result.exit_code == gate.DATA_REJECTED_EXIT
    features = {f.name: f.type for f in tfdv.load_schema_text(result.paths["schema"]).feature}
    assert features == {"x": schema_pb2.FLOAT, "n": schema_pb2.INT, "c": schema_pb2.BYTES, "label": schema_pb2.INT}
    # Column types come from the data: a few words in an integer column make it a type anomaly.
    rows = spans.rows(400, seed=9)
    for row in rows[::50]:
        row["n"] = "unknown"
    rows[3]["x"] = ""  # an empty cell is a missing value (x is required), not a string
    typed = gate.run_gate(config(tmp_path / "artifacts", [spans.write_csv(tmp_path / "typed.csv", rows)]))
    found = {(f.feature, f.description.split(".")[0]) for f in typed.anomalies}
    assert ("n", "Expected data of type: INT but got STRING") in found, typed.summary
    assert {f for f, _ in found} == {"n", "x"} and not any("type" in d for f, d in found if f == "x")


def test_image_folder_has_image_statistics(tmp_path):
    root = spans.write_image_folder(tmp_path / "images", per_class=60)
    (root / "cat" / "notes.txt").write_text("not an image")
    result = gate.run_gate(config(tmp_path / "artifacts", [root], max_bad_record_fraction=0.05))
    assert result.clean, result.summary
    assert result.bad_record_counts["data"] == {"unsupported format .txt": 1}
    stats = tfdv.load_stats_binary(result.paths["statistics"]).datasets[0]
    image = next(f for f in stats.features if f.path.step == [readers.IMAGE_FEATURE])
    custom = {c.name: c for c in image.custom_stats}
    assert custom["domain_info"].str == "image_domain {}"
    assert custom["image_max_width"].num == 10 and custom["image_max_height"].num == 12
    assert [b.label for b in custom["image_format_histogram"].rank_histogram.buckets] == ["png"]
    curated = tfdv.load_schema_text(result.paths["schema"])
    assert set(tfdv.get_domain(curated, "label").value) == {"cat", "dog"}
    assert not tfdv.get_feature(curated, readers.FILE_NAME_FEATURE).HasField("domain")  # an id, not a category
    assert "image_max_width" in Path(result.paths["report_html"]).read_text()


def test_bad_inputs_are_usage_errors(data_dir, tmp_path):
    with pytest.raises(UsageError, match="--data: '.*nothing-\\*.tfrecord' matches no file"):
        gate.run_gate(config(tmp_path, [data_dir / "nothing-*.tfrecord"]))
    with pytest.raises(UsageError, match="--data: 1 file\\(s\\) matched but hold zero readable rows"):
        gate.run_gate(config(tmp_path, [data_dir / "empty.tfrecord"]))
    header_only = tmp_path / "header.csv"
    header_only.write_text("x,n,c,label\n")
    with pytest.raises(UsageError, match="zero rows|zero readable rows"):
        gate.run_gate(config(tmp_path, [header_only]))
    with pytest.raises(UsageError, match="--serving_data"):
        gate.run_gate(config(tmp_path, [data_dir / "span0.tfrecord"], environment="SERVING", serving_data=("x",)))
    with pytest.raises(UsageError, match="--schema_path: '.*' is not a Schema"):
        broken = tmp_path / "broken.pbtxt"
        broken.write_text("feature { nme: 'x' }")
        gate.run_gate(config(tmp_path, [data_dir / "span0.tfrecord"], schema_path=str(broken)))


def test_pipeline_options_default_to_one_worker_per_core_and_pass_through():
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

    options = statistics.pipeline_options(RunnerOptions(direct_running_mode="multi_processing"))
    direct = options.view_as(DirectOptions)
    assert direct.direct_running_mode == "multi_processing" and direct.direct_num_workers >= 1
    dataflow = statistics.pipeline_options(
        RunnerOptions(
            beam_args=statistics.parse_beam_args(
                "--runner=DataflowRunner --project=p --region=europe-west1 --temp_location=gs://b/tmp"
            )
        )
    )
    assert dataflow.view_as(StandardOptions).runner == "DataflowRunner"
    assert dataflow.get_all_options()["temp_location"] == "gs://b/tmp"
    assert statistics.describe_runner(dataflow) == "DataflowRunner"
    assert dataflow.get_all_options()["pickle_library"] == "cloudpickle"  # code shipped by value
    given = statistics.pipeline_options(RunnerOptions(beam_args=("--direct_num_workers=7",)))
    assert given.view_as(DirectOptions).direct_num_workers == 7
    # in_memory given explicitly (it is also Beam's own default) runs one worker.
    in_memory = statistics.pipeline_options(RunnerOptions(beam_args=("--direct_running_mode=in_memory",)))
    assert statistics.describe_runner(in_memory) == "DirectRunner (in_memory, 1 worker(s))"
    with pytest.raises(UsageError, match="--beam_args"):
        statistics.parse_beam_args("--runner='unclosed")


def test_auto_running_mode_by_input_size():
    from apache_beam.options.pipeline_options import DirectOptions

    def mode(input_bytes: int | None, cores: int = 2) -> str:
        return resolve_running_mode("auto", input_bytes, cores)

    assert mode(AUTO_MULTI_PROCESSING_BYTES - 1) == "in_memory"
    assert mode(AUTO_MULTI_PROCESSING_BYTES) == "multi_processing"
    assert mode(None) == "multi_processing"  # size unknown: the case worker processes exist for
    assert mode(10 * AUTO_MULTI_PROCESSING_BYTES, cores=1) == "in_memory"  # one core: nothing to share
    assert resolve_running_mode("multi_threading", 1, 2) == "multi_threading"  # a mode named is kept
    large = statistics.pipeline_options(RunnerOptions(), input_bytes=AUTO_MULTI_PROCESSING_BYTES)
    expected = "multi_processing" if (os.cpu_count() or 1) > 1 else "in_memory"
    assert large.view_as(DirectOptions).direct_running_mode == expected
    small = statistics.pipeline_options(RunnerOptions(), input_bytes=1000)
    assert statistics.describe_runner(small) == "DirectRunner (in_memory, 1 worker(s))"


def test_tfds_prepared_files(tmp_path):
    """The digits TFRecords TFDS prepares: an encoded-image feature and an integer label."""
    import tensorflow_datasets as tfds

    import input_fns.datasets  # noqa: F401  (registers digits)

    builder = tfds.builder("digits", data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    result = gate.run_gate(config(tmp_path / "artifacts", [readers.tfds_split_pattern(builder, "train")]))
    assert result.clean, result.summary
    assert result.num_examples["data"] == builder.info.splits["train"].num_examples
    assert result.headline == "span 0 (TRAINING): CLEAN"
    stats = tfdv.load_stats_binary(result.paths["statistics"]).datasets[0]
    image = next(f for f in stats.features if f.path.step == ["image"])
    custom = {c.name: c for c in image.custom_stats}
    assert custom["domain_info"].str == "image_domain {}" and custom["image_max_width"].num == 8
    label = tfdv.get_feature(tfdv.load_schema_text(result.paths["schema"]), "label")
    assert label.int_domain.is_categorical and (label.int_domain.min, label.int_domain.max) == (0, 9)
