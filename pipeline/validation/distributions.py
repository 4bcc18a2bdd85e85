"""Plain numbers out of TFDV's statistics protos, for the report's charts (no TensorFlow here).

A categorical feature becomes its value shares (what the L-infinity comparator
compares), a numeric one its standard histogram (what the Jensen-Shannon
comparator compares), an image feature its format counts and largest sizes.
"""

from __future__ import annotations

from tensorflow_metadata.proto.v0 import statistics_pb2

from pipeline.validation.charts import Bucket

# TFDV's stand-in for a value that is not valid UTF-8 (an encoded image): no value to show.
BYTES_PLACEHOLDER = "__BYTES_VALUE__"
IMAGE_FORMATS = "image_format_histogram"
IMAGE_MAX_WIDTH = "image_max_width"
IMAGE_MAX_HEIGHT = "image_max_height"
DOMAIN_INFO = "domain_info"

Stats = statistics_pb2.DatasetFeatureStatisticsList
Feature = statistics_pb2.FeatureNameStatistics


def feature_name(feature: Feature) -> str:
    return ".".join(feature.path.step) or feature.name


def find_feature(statistics: Stats | None, name: str) -> Feature | None:
    if statistics is None or not statistics.datasets:
        return None
    return next((f for f in statistics.datasets[0].features if feature_name(f) == name), None)


def is_categorical(feature: Feature) -> bool:
    return feature.WhichOneof("stats") == "string_stats"


def is_numeric(feature: Feature) -> bool:
    return feature.WhichOneof("stats") == "num_stats"


def value_counts(feature: Feature) -> dict[str, float]:
    """Each value's count, from the rank histogram (every value TFDV kept), else the top values."""
    s = feature.string_stats
    if s.rank_histogram.buckets:
        pairs = ((b.label, b.sample_count) for b in s.rank_histogram.buckets)
    else:
        pairs = ((v.value, v.frequency) for v in s.top_values)
    return {label: float(count) for label, count in pairs if label != BYTES_PLACEHOLDER}


def value_shares(feature: Feature) -> dict[str, float]:
    """Value counts over the values counted: the frequencies the L-infinity distance compares."""
    counts = value_counts(feature)
    total = feature.string_stats.common_stats.tot_num_values or sum(counts.values()) or 1.0
    return {label: count / total for label, count in counts.items()}


def standard_histogram(feature: Feature) -> list[Bucket]:
    hist = next((h for h in feature.num_stats.histograms if h.type == statistics_pb2.Histogram.STANDARD), None)
    if hist is None:
        return []
    return [(b.low_value, b.high_value, b.sample_count) for b in hist.buckets]


def custom(feature: Feature | None, name: str) -> statistics_pb2.CustomStatistic | None:
    if feature is None:
        return None
    return next((c for c in feature.custom_stats if c.name == name), None)


def is_image(feature: Feature) -> bool:
    info = custom(feature, DOMAIN_INFO)
    return info is not None and info.str.startswith("image_domain")


def is_text(feature: Feature) -> bool:
    """TFDV's natural-language generator marked it: an average length means something only then."""
    info = custom(feature, DOMAIN_INFO)
    return info is not None and info.str.startswith("natural_language_domain")


def image_formats(feature: Feature | None) -> dict[str, int]:
    """TFDV's count of each image format over every image (empty below its 100-image threshold)."""
    stat = custom(feature, IMAGE_FORMATS)
    if stat is None:
        return {}
    return {b.label.upper(): int(b.sample_count) for b in stat.rank_histogram.buckets}


def image_max_size(feature: Feature | None) -> tuple[int, int] | None:
    """(width, height) of the widest and of the tallest image, over every image, when TFDV measured them."""
    width, height = custom(feature, IMAGE_MAX_WIDTH), custom(feature, IMAGE_MAX_HEIGHT)
    if width is None or height is None:
        return None
    return int(width.num), int(height.num)
