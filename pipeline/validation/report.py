"""What a validation run leaves to read: anomalies .pbtxt, a short table, an HTML report.

The HTML report is written from the statistics protos here, self-contained
(no script, no network): TFDV's own Facets view (``facets.html``, from
``tfdv.get_statistics_html``) loads Facets from the internet, which an
offline machine or a locked-down browser cannot.
"""

from __future__ import annotations

from pipeline.validation import quiet_tfdv  # noqa: F401  (before TFDV itself)

# isort: split

import html
import math
from collections.abc import Iterable, Sequence

import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from pipeline.validation.checks import Finding, Measurement

_MAX_DESCRIPTION = 110


def write_text(path: str, text: str) -> None:
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(text)


def write_anomalies(anomalies: anomalies_pb2.Anomalies, path: str) -> None:
    tfdv.write_anomalies_text(anomalies, path)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    rows = [list(map(str, r)) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def findings_table(findings: Sequence[Finding], max_rows: int = 40) -> str:
    """The short human-readable list of what is wrong: kind, feature, description."""
    if not findings:
        return "no anomalies, drift or skew"
    rows = [(f.kind, f.feature, _shorten(f.description, _MAX_DESCRIPTION)) for f in findings[:max_rows]]
    text = table(("kind", "feature", "description"), rows)
    if len(findings) > max_rows:
        text += f"\n... and {len(findings) - max_rows} more (see anomalies.pbtxt)"
    return text


def measurements_table(measurements: Sequence[Measurement]) -> str:
    rows = [
        (m.kind, m.feature, m.metric, f"{m.value:.4f}", f"{m.threshold:g}", "HIGH" if m.flagged else "ok")
        for m in measurements
    ]
    return table(("check", "feature", "metric", "value", "threshold", "status"), rows)


# --- HTML ---------------------------------------------------------------

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
.bad { color: #b00020; font-weight: bold; } .ok { color: #1b7f3b; font-weight: bold; }
.warn { background: #fff3f3; } pre { background: #f7f7f7; padding: 1em; overflow-x: auto; }
svg rect { fill: #4a78c2; }
"""


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.4g}"


def _histogram_svg(hist: statistics_pb2.Histogram, width: int = 160, height: int = 36) -> str:
    counts = [b.sample_count for b in hist.buckets]
    if not counts or max(counts) <= 0:
        return ""
    bar = width / len(counts)
    top = max(counts)
    rects = "".join(
        f'<rect x="{i * bar:.1f}" y="{height - c / top * height:.1f}" width="{max(bar - 1, 1):.1f}" '
        f'height="{c / top * height:.1f}"><title>{_fmt(b.low_value)}..{_fmt(b.high_value)}: {_fmt(c)}</title></rect>'
        for i, (b, c) in enumerate(zip(hist.buckets, counts, strict=True))
    )
    return f'<svg width="{width}" height="{height}">{rects}</svg>'


def _common(stats: statistics_pb2.FeatureNameStatistics) -> statistics_pb2.CommonStatistics:
    kind = stats.WhichOneof("stats")
    return getattr(stats, kind).common_stats if kind else statistics_pb2.CommonStatistics()


def _missing(stats: statistics_pb2.FeatureNameStatistics, num_examples: int) -> str:
    common = _common(stats)
    total = common.num_missing + common.num_non_missing or num_examples or 1
    share = common.num_missing / total
    return f'<span class="{"bad" if share else ""}">{share:.1%}</span>'


def _custom(stats: statistics_pb2.FeatureNameStatistics) -> str:
    parts = []
    for c in stats.custom_stats:
        kind = c.WhichOneof("val")
        if kind == "num":
            value = _fmt(c.num)
        elif kind == "str":
            value = c.str
        elif kind == "rank_histogram":
            value = ", ".join(f"{b.label}: {_fmt(b.sample_count)}" for b in c.rank_histogram.buckets[:8])
        elif kind == "histogram":
            value = _histogram_svg(c.histogram, 100, 24)
            parts.append(f"{html.escape(c.name)}: {value}")
            continue
        else:
            continue
        parts.append(f"{html.escape(c.name)}: {html.escape(value)}")
    return "<br>".join(parts)


def _name(stats: statistics_pb2.FeatureNameStatistics) -> str:
    return ".".join(stats.path.step) or stats.name


def _numeric_rows(dataset: statistics_pb2.DatasetFeatureStatistics, flagged: set[str]) -> list[str]:
    rows = []
    for f in dataset.features:
        if f.WhichOneof("stats") != "num_stats":
            continue
        n = f.num_stats
        hist = next((h for h in n.histograms if h.type == statistics_pb2.Histogram.STANDARD), None)
        name = _name(f)
        rows.append(
            f'<tr class="{"warn" if name in flagged else ""}"><td class="l">{html.escape(name)}</td>'
            f'<td class="l">{statistics_pb2.FeatureNameStatistics.Type.Name(f.type)}</td>'
            f"<td>{_fmt(n.common_stats.num_non_missing)}</td><td>{_missing(f, dataset.num_examples)}</td>"
            f"<td>{_fmt(n.mean)}</td><td>{_fmt(n.std_dev)}</td><td>{_fmt(n.num_zeros)}</td>"
            f"<td>{_fmt(n.min)}</td><td>{_fmt(n.median)}</td><td>{_fmt(n.max)}</td>"
            f"<td>{_histogram_svg(hist) if hist else ''}</td><td class='l'>{_custom(f)}</td></tr>"
        )
    return rows


def _categorical_rows(dataset: statistics_pb2.DatasetFeatureStatistics, flagged: set[str]) -> list[str]:
    rows = []
    for f in dataset.features:
        kind = f.WhichOneof("stats")
        if kind not in ("string_stats", "bytes_stats"):
            continue
        name = _name(f)
        if kind == "string_stats":
            s = f.string_stats
            unique, detail = _fmt(s.unique), f"avg length {_fmt(s.avg_length)}"
            top = ", ".join(f"{html.escape(v.value)} ({_fmt(v.frequency)})" for v in s.top_values[:6])
        else:
            b = f.bytes_stats
            unique, top = _fmt(b.unique), ""
            detail = f"{_fmt(b.min_num_bytes)}..{_fmt(b.max_num_bytes)} bytes, avg {_fmt(b.avg_num_bytes)}"
        rows.append(
            f'<tr class="{"warn" if name in flagged else ""}"><td class="l">{html.escape(name)}</td>'
            f'<td class="l">{statistics_pb2.FeatureNameStatistics.Type.Name(f.type)}</td>'
            f"<td>{_fmt(_common(f).num_non_missing)}</td><td>{_missing(f, dataset.num_examples)}</td>"
            f'<td>{unique}</td><td class="l">{top}</td><td class="l">{html.escape(detail)}</td>'
            f"<td class='l'>{_custom(f)}</td></tr>"
        )
    return rows


def _statistics_section(title: str, statistics: statistics_pb2.DatasetFeatureStatisticsList, flagged: set[str]) -> str:
    if not statistics.datasets:
        return f"<h2>{html.escape(title)}</h2><p>No statistics.</p>"
    dataset = statistics.datasets[0]
    parts = [
        f"<h2>{html.escape(title)}</h2>",
        f"<p>{_fmt(dataset.num_examples)} examples, {len(dataset.features)} features</p>",
    ]
    numeric = _numeric_rows(dataset, flagged)
    if numeric:
        parts.append(
            "<h3>Numeric features</h3><table><tr><th class='l'>feature</th><th class='l'>type</th><th>count</th>"
            "<th>missing</th><th>mean</th><th>std dev</th><th>zeros</th><th>min</th><th>median</th><th>max</th>"
            "<th>histogram</th><th class='l'>other</th></tr>" + "".join(numeric) + "</table>"
        )
    categorical = _categorical_rows(dataset, flagged)
    if categorical:
        parts.append(
            "<h3>Categorical, string and bytes features</h3><table><tr><th class='l'>feature</th>"
            "<th class='l'>type</th><th>count</th><th>missing</th><th>unique</th><th class='l'>top values</th>"
            "<th class='l'>values</th><th class='l'>other (image format, width, height...)</th></tr>"
            + "".join(categorical)
            + "</table>"
        )
    return "".join(parts)


def _findings_html(findings: Sequence[Finding]) -> str:
    if not findings:
        return '<p class="ok">No anomalies, drift or skew.</p>'
    rows = "".join(
        f"<tr><td class='l'>{html.escape(f.kind)}</td><td class='l'>{html.escape(f.feature)}</td>"
        f"<td class='l'>{html.escape(f.description)}</td></tr>"
        for f in findings
    )
    return (
        f"<table><tr><th class='l'>kind</th><th class='l'>feature</th><th class='l'>description</th></tr>{rows}</table>"
    )


def _measurements_html(measurements: Sequence[Measurement]) -> str:
    if not measurements:
        return "<p>No drift or skew measured (no previous span, no serving data, or no comparable feature).</p>"
    rows = "".join(
        f"<tr class='{'warn' if m.flagged else ''}'><td class='l'>{m.kind}</td><td class='l'>{html.escape(m.feature)}</td>"
        f"<td class='l'>{m.metric}</td><td>{m.value:.4f}</td><td>{m.threshold:g}</td>"
        f"<td class='{'bad' if m.flagged else 'ok'}'>{'HIGH' if m.flagged else 'ok'}</td></tr>"
        for m in measurements
    )
    return (
        "<table><tr><th class='l'>check</th><th class='l'>feature</th><th class='l'>metric</th><th>value</th>"
        f"<th>threshold</th><th>status</th></tr>{rows}</table>"
    )


def write_html(
    path: str,
    *,
    title: str,
    summary: str,
    clean: bool,
    findings: Sequence[Finding],
    measurements: Sequence[Measurement],
    statistics: dict[str, statistics_pb2.DatasetFeatureStatisticsList],
) -> None:
    """One page: verdict, findings, drift/skew measurements, then each dataset's statistics."""
    flagged = {f.feature for f in findings}
    verdict = '<span class="ok">CLEAN</span>' if clean else '<span class="bad">NOT CLEAN</span>'
    sections = "".join(_statistics_section(name, stats, flagged) for name, stats in statistics.items())
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}: {verdict}</h1>"
        f"<pre>{html.escape(summary)}</pre><h2>Anomalies, drift and skew</h2>{_findings_html(findings)}"
        f"<h2>Drift and skew measurements</h2>{_measurements_html(measurements)}{sections}</body></html>"
    )
    write_text(path, page)


def write_facets_html(
    path: str,
    current: statistics_pb2.DatasetFeatureStatisticsList,
    other: statistics_pb2.DatasetFeatureStatisticsList | None,
    names: tuple[str, str],
) -> None:
    """TFDV's Facets Overview of the statistics (the page loads Facets from the internet)."""
    body = tfdv.get_statistics_html(current, other, lhs_name=names[0], rhs_name=names[1])
    write_text(path, f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>")
