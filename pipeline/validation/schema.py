"""The curated schema: inferred once, then only changed by an explicit update.

``resolve_schema`` infers the schema from the first span's statistics and
writes it as .pbtxt for a person to review and commit; from then on it is
only read. ``--update_schema`` relaxes it to accept a new span (the previous
file is kept beside it as ``.bak``). Drift and skew comparators are put on an
in-memory copy at validation time from the configured thresholds, so the
file only holds what a person curated.
"""

from __future__ import annotations

from pipeline.validation import quiet_tfdv  # noqa: F401  (before TFDV itself)

# isort: split

import dataclasses
import datetime

import tensorflow as tf
import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_data_validation.utils import schema_util
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from common.errors import UsageError
from pipeline.validation import readers
from pipeline.validation.config import Thresholds

TRAINING = "TRAINING"
SERVING = "SERVING"
# A bytes feature whose every value is distinct (file names, ids) is an identifier, not a category.
_MIN_VALUES_FOR_IDENTIFIER = 20


@dataclasses.dataclass(frozen=True)
class SchemaOutcome:
    schema: schema_pb2.Schema
    path: str
    action: str  # "loaded", "inferred" or "updated"
    backup_path: str | None = None


def load_schema(path: str) -> schema_pb2.Schema:
    try:
        return tfdv.load_schema_text(path)
    except (tf.errors.OpError, OSError) as err:
        raise UsageError("schema_path", f"cannot read '{path}' ({err})") from None
    except text_format.ParseError as err:
        raise UsageError("schema_path", f"'{path}' is not a Schema in text format ({err})") from None


def write_schema(schema: schema_pb2.Schema, path: str) -> str | None:
    """Writes ``schema``; an existing file is first kept as ``<path>.<UTC time>.bak``."""
    backup = None
    if tf.io.gfile.exists(path):
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")
        backup = f"{path}.{stamp}.bak"
        tf.io.gfile.copy(path, backup, overwrite=True)
    parent = path.rsplit("/", 1)[0] if "/" in path else "."
    tf.io.gfile.makedirs(parent)
    tfdv.write_schema_text(schema, path)
    return backup


def _dataset(statistics: statistics_pb2.DatasetFeatureStatisticsList) -> statistics_pb2.DatasetFeatureStatistics:
    return statistics.datasets[0]


def _feature_stats(
    statistics: statistics_pb2.DatasetFeatureStatisticsList, name: str
) -> statistics_pb2.FeatureNameStatistics | None:
    for feature in _dataset(statistics).features:
        if list(feature.path.step) == [name] or feature.name == name:
            return feature
    return None


def _clear_domain(schema: schema_pb2.Schema, feature: schema_pb2.Feature) -> None:
    """Drops a feature's string domain, shared (``domain: "x"``) or inline."""
    if feature.HasField("domain"):
        name = feature.domain
        feature.ClearField("domain")
        if not any(f.domain == name for f in schema.feature):
            kept = [d for d in schema.string_domain if d.name != name]
            del schema.string_domain[:]
            schema.string_domain.extend(kept)
    elif feature.HasField("string_domain"):
        feature.ClearField("string_domain")


def _curate_label(schema: schema_pb2.Schema, statistics, label: str) -> None:
    """The label is required in TRAINING, absent in SERVING, and has a domain of its classes."""
    feature = next((f for f in schema.feature if f.name == label), None)
    if feature is None:
        return
    if SERVING not in feature.not_in_environment:
        feature.not_in_environment.append(SERVING)
    stats = _feature_stats(statistics, label)
    if stats is None:
        return
    if feature.type == schema_pb2.BYTES:
        _label_string_domain(schema, feature, stats)
        return
    if feature.type != schema_pb2.INT:
        return
    # Statistics mark an integer label categorical: infer_schema gives it a string domain of
    # its values, which does not fit an INT feature. Turn it into an integer range of classes.
    values: list[int] = []
    if stats.HasField("string_stats"):
        labels = [b.label for b in stats.string_stats.rank_histogram.buckets]
        labels += [t.value for t in stats.string_stats.top_values]
        values = [int(v) for v in labels if v.lstrip("-").isdigit()]
    elif stats.HasField("num_stats"):
        values = [int(stats.num_stats.min), int(stats.num_stats.max)]
    _clear_domain(schema, feature)
    feature.int_domain.is_categorical = True
    if values:
        feature.int_domain.min = min(values)
        feature.int_domain.max = max(values)


def _label_string_domain(
    schema: schema_pb2.Schema, feature: schema_pb2.Feature, stats: statistics_pb2.FeatureNameStatistics
) -> None:
    """A bytes label is a category, whatever its values look like.

    Class folders named 0-9 hold bytes that parse as integers: TFDV infers an (empty)
    int_domain for them, which is no category, so no drift comparator would be set and a
    new class would be no anomaly. The label gets the string domain of its classes instead.
    """
    if feature.WhichOneof("domain_info") in ("domain", "string_domain"):
        return
    values = sorted({v.value for v in stats.string_stats.top_values} | _rank_labels(stats))
    feature.ClearField(feature.WhichOneof("domain_info") or "string_domain")
    if values:
        feature.string_domain.value.extend(values)


def _rank_labels(stats: statistics_pb2.FeatureNameStatistics) -> set[str]:
    return {b.label for b in stats.string_stats.rank_histogram.buckets}


def _clear_identifier_domains(schema: schema_pb2.Schema, statistics) -> None:
    for feature in schema.feature:
        if feature.type != schema_pb2.BYTES or feature.WhichOneof("domain_info") not in ("domain", "string_domain"):
            continue
        stats = _feature_stats(statistics, feature.name)
        if feature.name == readers.FILE_NAME_FEATURE or (
            stats is not None
            and stats.HasField("string_stats")
            and stats.string_stats.common_stats.num_non_missing >= _MIN_VALUES_FOR_IDENTIFIER
            and stats.string_stats.unique == stats.string_stats.common_stats.num_non_missing
        ):
            _clear_domain(schema, feature)


def infer_schema(statistics: statistics_pb2.DatasetFeatureStatisticsList, label: str | None) -> schema_pb2.Schema:
    """TFDV's inferred schema (types, presence, shapes, domains), curated for a gate."""
    schema = tfdv.infer_schema(statistics, infer_feature_shape=True)
    _clear_identifier_domains(schema, statistics)
    for env in (TRAINING, SERVING):
        if env not in schema.default_environment:
            schema.default_environment.append(env)
    if label:
        _curate_label(schema, statistics, label)
    return schema


def update_schema(
    schema: schema_pb2.Schema, statistics: statistics_pb2.DatasetFeatureStatisticsList, label: str | None
) -> schema_pb2.Schema:
    """Relaxes ``schema`` so that ``statistics`` fit it (new values, new features), keeping curation."""
    known = {f.name for f in schema.feature}
    updated = tfdv.update_schema(schema, statistics, infer_feature_shape=True)
    new_names = {f.name for f in updated.feature} - known
    if new_names:
        _clear_identifier_domains(updated, statistics)
    if label and label in new_names:
        _curate_label(updated, statistics, label)
    return updated


def resolve_schema(
    path: str,
    statistics: statistics_pb2.DatasetFeatureStatisticsList,
    *,
    label: str | None,
    update: bool,
    environment: str,
) -> SchemaOutcome:
    """Loads the curated schema, or infers it on the first run, or updates it when asked to."""
    if not tf.io.gfile.exists(path):
        schema = infer_schema(statistics, label if environment == TRAINING else None)
        write_schema(schema, path)
        return SchemaOutcome(schema, path, "inferred")
    schema = load_schema(path)
    if not update:
        return SchemaOutcome(schema, path, "loaded")
    if environment != TRAINING:
        raise UsageError("update_schema", "update the schema from TRAINING data (the label is absent in SERVING)")
    schema = update_schema(schema, statistics, label)
    backup = write_schema(schema, path)
    return SchemaOutcome(schema, path, "updated", backup)


def _has_categorical_domain(feature: schema_pb2.Feature) -> bool:
    kind = feature.WhichOneof("domain_info")
    if feature.type == schema_pb2.BYTES:
        return kind in ("domain", "string_domain", "bool_domain")
    return schema_util.is_categorical_feature(feature)


def _set_comparator(feature: schema_pb2.Feature, field: str, categorical: bool, threshold: float | None) -> None:
    """``threshold`` None keeps what the curated schema says; 0 turns the check off."""
    if threshold is None:
        return
    feature.ClearField(field)
    if threshold > 0:
        comparator = getattr(feature, field)
        if categorical:
            comparator.infinity_norm.threshold = threshold
        else:
            comparator.jensen_shannon_divergence.threshold = threshold


def with_comparators(schema: schema_pb2.Schema, thresholds: Thresholds, label: str | None = None) -> schema_pb2.Schema:
    """A copy of ``schema`` with a drift and a skew comparator on every comparable feature.

    Categorical features (a string domain, an integer marked categorical, and the
    ``label`` whatever its domain says) use the L-infinity distance; numeric ones the
    Jensen-Shannon divergence. Free bytes (images, ids, text) have nothing to compare.
    Skew is not measured for features absent in SERVING (the label).
    """
    result = schema_pb2.Schema()
    result.CopyFrom(schema)
    for feature in result.feature:
        numeric = feature.type in (schema_pb2.INT, schema_pb2.FLOAT)
        # The label is a category even when a schema curated before says otherwise
        # (an int_domain on the bytes "0".."9" of class folders): its drift is always measured.
        categorical = feature.name == label or _has_categorical_domain(feature)
        if not categorical and not numeric:
            continue
        if categorical:
            drift_default, skew_default = thresholds.categorical_drift, thresholds.categorical_skew
        else:
            drift_default, skew_default = thresholds.numeric_drift, thresholds.numeric_skew
        drift = thresholds.drift_override(feature.name)
        if drift is None and not feature.HasField("drift_comparator"):
            drift = drift_default
        _set_comparator(feature, "drift_comparator", categorical, drift)
        if SERVING in feature.not_in_environment:
            feature.ClearField("skew_comparator")
            continue
        skew = thresholds.skew_override(feature.name)
        if skew is None and not feature.HasField("skew_comparator"):
            skew = skew_default
        _set_comparator(feature, "skew_comparator", categorical, skew)
    return result
