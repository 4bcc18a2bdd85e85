"""Anomalies, drift and skew: the statistics checked against the curated schema.

One ``tfdv.validate_statistics`` call checks the data in its environment and,
with the comparators ``schema.with_comparators`` set, measures drift against
the previous span and skew against serving data. Serving data is also checked
on its own in the SERVING environment. The result is split into findings a
person reads: schema anomalies, drift, skew.
"""

from __future__ import annotations

from pipeline.validation import quiet_tfdv  # noqa: F401  (before TFDV itself)

# isort: split

import dataclasses

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from pipeline.validation.schema import SERVING

ANOMALY = "anomaly"
SERVING_ANOMALY = "serving anomaly"
DRIFT = "drift"
SKEW = "skew"
BAD_RECORDS = "bad records"

_METRIC_NAMES = {
    anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: "L-infinity",
    anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE: "Jensen-Shannon",
    anomalies_pb2.DriftSkewInfo.Measurement.NORMALIZED_ABSOLUTE_DIFFERENCE: "normalized abs diff",
}


@dataclasses.dataclass(frozen=True)
class Finding:
    """One reason the data is not clean."""

    kind: str  # ANOMALY, SERVING_ANOMALY, DRIFT, SKEW or BAD_RECORDS
    feature: str
    description: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Measurement:
    """A drift or skew distance on one feature, flagged or not."""

    kind: str  # DRIFT or SKEW
    feature: str
    metric: str
    value: float
    threshold: float

    @property
    def flagged(self) -> bool:
        return self.value > self.threshold

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "flagged": self.flagged}


@dataclasses.dataclass(frozen=True)
class CheckResult:
    anomalies: anomalies_pb2.Anomalies
    serving_anomalies: anomalies_pb2.Anomalies | None
    findings: tuple[Finding, ...]
    measurements: tuple[Measurement, ...]

    def of_kind(self, *kinds: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.kind in kinds)


def _feature_name(key: str, info: anomalies_pb2.AnomalyInfo) -> str:
    return ".".join(info.path.step) or key


def _is_comparator(reason: anomalies_pb2.AnomalyInfo.Reason) -> bool:
    return anomalies_pb2.AnomalyInfo.Type.Name(reason.type).startswith("COMPARATOR_")


def _findings(anomalies: anomalies_pb2.Anomalies, schema_kind: str) -> list[Finding]:
    found = []
    for key in sorted(anomalies.anomaly_info):
        info = anomalies.anomaly_info[key]
        feature = _feature_name(key, info)
        for reason in info.reason or [info]:
            description = reason.description.strip() or reason.short_description
            description = description.replace(" (up to six significant digits)", "")
            kind = schema_kind
            if _is_comparator(reason):
                # TFDV says "current and previous" for drift, "training and serving" for skew.
                kind = SKEW if "serving" in description.lower() else DRIFT
            found.append(Finding(kind, feature, description))
    for reason in anomalies.dataset_anomaly_info.reason:
        found.append(Finding(schema_kind, "(dataset)", reason.description.strip() or reason.short_description))
    return found


def _measurements(anomalies: anomalies_pb2.Anomalies) -> list[Measurement]:
    result = []
    for info in anomalies.drift_skew_info:
        feature = ".".join(info.path.step)
        for kind, measurements in ((DRIFT, info.drift_measurements), (SKEW, info.skew_measurements)):
            for m in measurements:
                metric = _METRIC_NAMES.get(m.type, str(m.type))
                result.append(Measurement(kind, feature, metric, float(m.value), float(m.threshold)))
    return sorted(result, key=lambda m: (m.kind, m.feature))


def check(
    statistics: statistics_pb2.DatasetFeatureStatisticsList,
    schema: schema_pb2.Schema,
    *,
    environment: str,
    previous_statistics: statistics_pb2.DatasetFeatureStatisticsList | None = None,
    serving_statistics: statistics_pb2.DatasetFeatureStatisticsList | None = None,
) -> CheckResult:
    """``schema`` should carry the comparators (``schema.with_comparators``)."""
    anomalies = tfdv.validate_statistics(
        statistics,
        schema,
        environment=environment,
        previous_statistics=previous_statistics,
        serving_statistics=serving_statistics,
    )
    findings = _findings(anomalies, ANOMALY)
    serving_anomalies = None
    if serving_statistics is not None:
        serving_anomalies = tfdv.validate_statistics(serving_statistics, schema, environment=SERVING)
        findings += _findings(serving_anomalies, SERVING_ANOMALY)
    return CheckResult(anomalies, serving_anomalies, tuple(findings), tuple(_measurements(anomalies)))
