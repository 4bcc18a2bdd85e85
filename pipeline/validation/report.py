"""What a validation run leaves to read: anomalies .pbtxt, a short table, an HTML report.

The HTML report is written from the statistics protos here, as one
self-contained file: no script, style, font or image from anywhere else, the
charts embedded as ``data:`` URIs (and written beside it as PNG files), so it
opens offline and in a locked-down browser. TFDV's own Facets view
(``tfdv.get_statistics_html``) loads Facets from the internet and is blank
offline: kestrel does not write it (docs/validation.md says how to open
statistics.pb in Facets with a network).
"""

from __future__ import annotations

from pipeline.validation import quiet_tfdv  # noqa: F401  (before TFDV itself)

# isort: split

import base64
import dataclasses
import html
import math
import os
from collections.abc import Iterable, Sequence

import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from estimators.reports.page import document
from pipeline.validation import distributions as dist
from pipeline.validation import figures
from pipeline.validation.checks import Finding, Measurement
from pipeline.validation.figures import Figure, Named
from pipeline.validation.image_samples import ImageSample

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
img.chart { max-width: 100%; height: auto; }
figure { display: inline-block; margin: .5em 1em 1em 0; vertical-align: top; max-width: 100%; }
figure:not(.wide) { width: 540px; }
figure.flagged { outline: 2px solid #b00020; outline-offset: 4px; }
figcaption { font-size: 12px; color: #444; }
.thumbs { margin: .3em 0 1em; } .thumbs h4 { margin: .3em 0; }
.thumbs img { width: 64px; height: 64px; object-fit: contain; image-rendering: pixelated;
  border: 1px solid #ddd; margin: 0 4px 4px 0; background: #fafafa; }
ul.bad-files code { color: #b00020; }
"""


@dataclasses.dataclass(frozen=True)
class BadList:
    """What could not be read: counts per kind and the samples the job kept (the first few of each kind)."""

    counts: dict[str, int]
    samples: tuple[dict, ...]
    path: str  # bad_records.json


@dataclasses.dataclass(frozen=True)
class ReportData:
    """Everything report.html shows of one span."""

    title: str
    summary: str
    clean: bool
    findings: Sequence[Finding]
    measurements: Sequence[Measurement]
    current: Named  # this span's data
    previous: Named | None = None  # the baseline of the drift checks
    serving: Named | None = None  # the baseline of the skew checks
    label: str | None = None
    images: ImageSample | None = None  # an image folder: thumbnails and sizes
    image_feature: str = "image"
    bad: BadList | None = None


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


def _custom_value(c: statistics_pb2.CustomStatistic) -> str | None:
    """One custom statistic as HTML, or None for one the table does not show."""
    kind = c.WhichOneof("val")
    if c.name == dist.DOMAIN_INFO:
        # "image_domain {}" -> "image": the proto text says nothing more to a reader.
        return html.escape(c.str.split(" ", 1)[0].replace("_domain", "").replace("_", " "))
    if kind == "num":
        return html.escape(_fmt(c.num))
    if kind == "str":
        return html.escape(c.str)
    if kind == "rank_histogram":
        return html.escape(", ".join(f"{b.label}: {_fmt(b.sample_count)}" for b in c.rank_histogram.buckets[:8]))
    if kind == "histogram":
        return _histogram_svg(c.histogram, 100, 24)
    return None


def _custom(stats: statistics_pb2.FeatureNameStatistics) -> str:
    parts = []
    for c in stats.custom_stats:
        value = _custom_value(c)
        if value is not None:
            # TFDV's own names (image_max_width...), as its docs and the statistics proto spell them.
            name = "domain" if c.name == dist.DOMAIN_INFO else c.name
            parts.append(f"{html.escape(name)}: {value}")
    return "<br>".join(parts)


def _name(stats: statistics_pb2.FeatureNameStatistics) -> str:
    return dist.feature_name(stats)


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


def _top_values(f: statistics_pb2.FeatureNameStatistics, is_image: bool) -> str:
    """The most frequent values, or what they are when listing them would say nothing."""
    s = f.string_stats
    shown = [v for v in s.top_values if v.value != dist.BYTES_PLACEHOLDER]
    if is_image or (s.top_values and not shown):
        return "(encoded images)" if is_image else "(binary values)"
    if shown and max(v.frequency for v in shown) <= 1:
        return "(every value is unique)"
    return ", ".join(f"{html.escape(v.value)} ({_fmt(v.frequency)})" for v in shown[:6])


def _string_cells(f: statistics_pb2.FeatureNameStatistics, image_feature: str) -> tuple[str, str, str]:
    """(unique, top values, values): an average length only for text, where it means something."""
    s = f.string_stats
    is_image = dist.is_image(f) or _name(f) == image_feature
    detail = f"avg length {_fmt(s.avg_length)}" if dist.is_text(f) else ""
    if is_image:
        formats = dist.image_formats(f)
        detail = ", ".join(f"{k} {_fmt(n)}" for k, n in formats.items())
    return _fmt(s.unique), _top_values(f, is_image), html.escape(detail)


def _categorical_rows(
    dataset: statistics_pb2.DatasetFeatureStatistics, flagged: set[str], image_feature: str
) -> list[str]:
    rows = []
    for f in dataset.features:
        kind = f.WhichOneof("stats")
        if kind not in ("string_stats", "bytes_stats"):
            continue
        name = _name(f)
        if kind == "string_stats":
            unique, top, detail = _string_cells(f, image_feature)
        else:
            b = f.bytes_stats
            unique, top = _fmt(b.unique), ""
            detail = html.escape(f"{_fmt(b.min_num_bytes)}..{_fmt(b.max_num_bytes)} bytes, avg {_fmt(b.avg_num_bytes)}")
        rows.append(
            f'<tr class="{"warn" if name in flagged else ""}"><td class="l">{html.escape(name)}</td>'
            f'<td class="l">{statistics_pb2.FeatureNameStatistics.Type.Name(f.type)}</td>'
            f"<td>{_fmt(_common(f).num_non_missing)}</td><td>{_missing(f, dataset.num_examples)}</td>"
            f'<td>{unique}</td><td class="l">{top}</td><td class="l">{detail}</td>'
            f"<td class='l'>{_custom(f)}</td></tr>"
        )
    return rows


# The statistics tables' columns; a text column's header, left-aligned, starts with "<" (_html_table).
_NUMERIC_HEADERS = (
    "<feature",
    "<type",
    "count",
    "missing",
    "mean",
    "std dev",
    "zeros",
    "min",
    "median",
    "max",
    "histogram",
    "<other",
)
_CATEGORICAL_HEADERS = (
    "<feature",
    "<type",
    "count",
    "missing",
    "unique",
    "<top values",
    "<values",
    "<other (domain, image formats, largest sizes)",
)


def _statistics_section(
    title: str, statistics: statistics_pb2.DatasetFeatureStatisticsList, flagged: set[str], image_feature: str
) -> str:
    if not statistics.datasets:
        return f"<h2>{html.escape(title)}</h2><p>No statistics.</p>"
    dataset = statistics.datasets[0]
    parts = [
        f"<h2>{html.escape(title)}</h2>",
        f"<p>{_fmt(dataset.num_examples)} examples, {len(dataset.features)} features</p>",
    ]
    numeric = _numeric_rows(dataset, flagged)
    if numeric:
        parts.append("<h3>Numeric features</h3>" + _html_table(_NUMERIC_HEADERS, numeric))
    categorical = _categorical_rows(dataset, flagged, image_feature)
    if categorical:
        parts.append("<h3>Categorical, string and bytes features</h3>" + _html_table(_CATEGORICAL_HEADERS, categorical))
    return "".join(parts)


def _findings_html(findings: Sequence[Finding]) -> str:
    rows = (
        f"<tr><td class='l'>{html.escape(f.kind)}</td><td class='l'>{html.escape(f.feature)}</td>"
        f"<td class='l'>{html.escape(f.description)}</td></tr>"
        for f in findings
    )
    return _html_table(("<kind", "<feature", "<description"), rows, '<p class="ok">No anomalies, drift or skew.</p>')


def _measurements_html(measurements: Sequence[Measurement]) -> str:
    rows = (
        f"<tr class='{'warn' if m.flagged else ''}'><td class='l'>{m.kind}</td><td class='l'>{html.escape(m.feature)}</td>"
        f"<td class='l'>{m.metric}</td><td>{m.value:.4f}</td><td>{m.threshold:g}</td>"
        f"<td class='{'bad' if m.flagged else 'ok'}'>{'HIGH' if m.flagged else 'ok'}</td></tr>"
        for m in figures.ordered(measurements)
    )
    headers = ("<check", "<feature", "<metric", "value", "threshold", "status")
    empty = "<p>No drift or skew measured (no previous span, no serving data, or no comparable feature).</p>"
    return _html_table(headers, rows, empty)


def _html_table(headers: Sequence[str], rows: Iterable[str], empty: str = "") -> str:
    """``rows`` (each its ``<tr>``) under ``headers``, or ``empty`` without any; a text column's header,
    left-aligned, starts with "<"."""
    rows = list(rows)
    if not rows:
        return empty
    head = "".join(f"<th class='l'>{h[1:]}</th>" if h.startswith("<") else f"<th>{h}</th>" for h in headers)
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _section(section_id: str, heading: str, body: str) -> str:
    return f"<section id='{section_id}'><h2>{html.escape(heading)}</h2>{body}</section>"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _figure_html(figure: Figure) -> str:
    data = f' data-feature="{html.escape(figure.feature)}" data-kind="{figure.kind}"' if figure.kind else ""
    classes = " ".join(c for c, on in (("flagged", figure.flagged), ("wide", figure.wide)) if on)
    return (
        f"<figure class='{classes}'{data}><img class='chart' src='{_data_uri(figure.png)}' alt='{html.escape(figure.alt)}'>"
        f"<figcaption>{html.escape(figure.caption)} ({html.escape(figure.file_name)})</figcaption></figure>"
    )


def _thumbnails_html(sample: ImageSample, counts: dict[str, float]) -> str:
    parts = []
    for label, thumbs in sample.thumbnails.items():
        images = "".join(
            f"<img src='{t.data_uri}' alt='{html.escape(t.name)}' title='{html.escape(t.name)}'>" for t in thumbs
        )
        count = f", {_fmt(counts[label])} images" if label in counts else ""
        parts.append(
            f"<div class='thumbs' data-class='{html.escape(label)}'><h4>{html.escape(label)}{count}</h4>{images}</div>"
        )
    if sample.classes > len(sample.thumbnails):
        parts.append(f"<p>Thumbnails of the first {len(sample.thumbnails)} of {sample.classes} classes.</p>")
    return "".join(parts)


def _bad_html(bad: BadList | None, images: bool) -> str:
    """Every bad file the job named, with its reason; the count of any it did not keep a sample of."""
    what = "files" if images else "records"
    if bad is None or not bad.counts:
        return _section("bad-files", f"Bad {what}", "<p class='ok'>None: every input was read.</p>")
    items = "".join(
        f"<li><code>{html.escape(b.get('where') or b['kind'])}</code>: {html.escape(b['sample'])}</li>"
        for b in bad.samples
    )
    kept: dict[str, int] = {}
    for b in bad.samples:
        kept[b["kind"]] = kept.get(b["kind"], 0) + 1
    more = "".join(
        f"<li>and {n - kept.get(kind, 0):,} more {html.escape(kind)} (bad_records.json keeps the first "
        f"{kept.get(kind, 0)} of each kind)</li>"
        for kind, n in sorted(bad.counts.items())
        if n > kept.get(kind, 0)
    )
    total = sum(bad.counts.values())
    kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(bad.counts.items()))
    return _section(
        "bad-files",
        f"Bad {what}",
        f"<p class='bad'>{total:,} not read ({html.escape(kinds)}); the samples are in "
        f"{html.escape(os.path.basename(bad.path))}.</p><ul class='bad-files'>{items}{more}</ul>",
    )


def _images_html(data: ReportData, image_sizes: Figure | None) -> str:
    if data.images is None:
        return ""
    feature = dist.find_feature(data.current.statistics, data.label) if data.label else None
    counts = dist.value_counts(feature) if feature is not None and dist.is_categorical(feature) else {}
    sizes = _figure_html(image_sizes) if image_sizes else "<p>No image could be measured.</p>"
    return _section("image-sizes", "Image sizes and formats", sizes) + _section(
        "thumbnails", "Sample images", _thumbnails_html(data.images, counts)
    )


def _image_sizes_figure(data: ReportData) -> Figure | None:
    if data.images is None:
        return None
    feature = dist.find_feature(data.current.statistics, data.image_feature)
    datasets = data.current.statistics.datasets
    usable = int(datasets[0].num_examples) if datasets else 0
    return figures.image_sizes(data.images, dist.image_formats(feature), dist.image_max_size(feature), usable)


def _drift_html(data: ReportData, overlays: Sequence[Figure]) -> str:
    drawn = "".join(_figure_html(f) for f in overlays)
    if data.measurements and not overlays:
        drawn = "<p>No distribution to draw for the measured features.</p>"
    elif len(overlays) < len(data.measurements):
        drawn += f"<p>{len(overlays)} of {len(data.measurements)} measured features drawn; the table has them all.</p>"
    return _section("drift", "Drift and skew, by eye", f"{_measurements_html(data.measurements)}<div>{drawn}</div>")


def _remove_stale_charts(directory: str) -> None:
    """A rerun of the span leaves only its own charts (a feature no longer drifting has no overlay)."""
    if not tf.io.gfile.isdir(directory):
        return
    for name in tf.io.gfile.listdir(directory):
        chart = name in (figures.CLASS_BALANCE_PNG, figures.IMAGE_SIZES_PNG) or name.startswith(
            figures.OVERLAY_PREFIXES
        )
        # facets.html: written by earlier versions, it loads Facets from the internet and is blank offline.
        if (chart and name.endswith(".png")) or name == "facets.html":
            tf.io.gfile.remove(os.path.join(directory, name))


def _write_png(directory: str, figure: Figure) -> str:
    path = os.path.join(directory, figure.file_name)
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(figure.png)
    return path


def write_html(path: str, data: ReportData) -> list[str]:
    """One page: verdict, findings, class balance, images, bad files, drift by eye, then each dataset's
    statistics. Returns the PNG files written beside it (the same charts the page embeds)."""
    directory = os.path.dirname(path)
    _remove_stale_charts(directory)
    balance = figures.class_balance(data.label, data.current, data.previous)
    sizes = _image_sizes_figure(data)
    overlays = figures.overlays(data.measurements, data.current, data.previous, data.serving)
    written = [_write_png(directory, f) for f in (balance, sizes, *overlays) if f is not None]
    flagged = {f.feature for f in data.findings}
    datasets = [data.current, *(n for n in (data.serving, data.previous) if n is not None)]
    statistics = "".join(_statistics_section(n.name, n.statistics, flagged, data.image_feature) for n in datasets)
    verdict = '<span class="ok">CLEAN</span>' if data.clean else '<span class="bad">NOT CLEAN</span>'
    balance_html = _section("class-balance", "Class balance", _figure_html(balance)) if balance else ""
    bad_html = _bad_html(data.bad, data.images is not None) if data.bad is not None or data.images else ""
    title = html.escape(data.title)
    body = (
        f"<h1>{title}: {verdict}</h1>"
        f"<pre>{html.escape(data.summary)}</pre><h2>Anomalies, drift and skew</h2>{_findings_html(data.findings)}"
        f"{balance_html}{_images_html(data, sizes)}{bad_html}{_drift_html(data, overlays)}{statistics}"
    )
    page = document(title, _CSS, body)
    write_text(path, page)
    return written
