"""The report's figures, each one PNG with its file name and caption (no TensorFlow here).

Class balance (this span beside its baseline), image sizes and formats, and for
every feature with a drift or skew check the two distributions overlaid, with
the measured distance, the threshold and the comparator. ``report.py`` writes
each PNG beside report.html and embeds it in the page.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipeline.validation import charts, checks
from pipeline.validation import distributions as dist
from pipeline.validation.checks import Measurement

if TYPE_CHECKING:  # image_samples reads files with TensorFlow's gfile: not imported here
    from pipeline.validation.image_samples import ImageSample

CLASS_BALANCE_PNG = "class_balance.png"
IMAGE_SIZES_PNG = "image_sizes.png"
# drift-<feature>.png, skew-<feature>.png: one overlay per checked feature.
OVERLAY_PREFIXES = ("drift-", "skew-")
# Overlays drawn, drifted features first; the rest are in the measurements table.
MAX_OVERLAYS = 40

_COMPARATORS = {checks.DRIFT: "drift_comparator", checks.SKEW: "skew_comparator"}
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclasses.dataclass(frozen=True)
class Figure:
    file_name: str  # beside report.html
    png: bytes
    alt: str  # what the figure shows, for the img's alt text
    caption: str
    feature: str = ""
    kind: str = ""  # checks.DRIFT or checks.SKEW for an overlay
    flagged: bool = False
    wide: bool = False  # laid out on a line of its own


@dataclasses.dataclass(frozen=True)
class Named:
    """Statistics and what the report calls them ("span 3", "previous span 2", "serving data")."""

    name: str
    statistics: dist.Stats


def class_balance(label: str | None, current: Named, previous: Named | None) -> Figure | None:
    """The label's share of examples per class, beside the previous accepted span when there is one."""
    feature = dist.find_feature(current.statistics, label) if label else None
    if feature is None or not dist.is_categorical(feature):
        return None
    series = {current.name: dist.value_shares(feature)}
    before = dist.find_feature(previous.statistics, label) if previous else None
    if before is not None and dist.is_categorical(before):
        series[previous.name] = dist.value_shares(before)
    png = charts.bar_comparison(
        {name: {k: 100 * v for k, v in shares.items()} for name, shares in series.items()},
        title=f"class balance ({label})",
        ylabel="% of examples",
    )
    names = " beside ".join(series)
    return Figure(CLASS_BALANCE_PNG, png, f"class balance of '{label}': {names}", f"Share of each class: {names}.")


def image_sizes(
    sample: ImageSample, tfdv_formats: dict[str, int], max_size: tuple[int, int] | None, usable: int
) -> Figure | None:
    """Width, height and format of the sampled files; the formats over every image when TFDV counted them."""
    if not sample.sampled:
        return None
    formats = tfdv_formats or sample.formats
    png = charts.image_sizes(sample.widths, sample.heights, formats)
    scope = "all" if sample.sampled >= usable else f"{sample.sampled:,} (spread over the folder) of the"
    caption = f"Width and height of {scope} {usable:,} readable images; "
    caption += f"formats over all {sum(formats.values()):,} (TFDV)" if tfdv_formats else "formats of the same files"
    if max_size:
        caption += f"; the widest image is {max_size[0]:,} px wide, the tallest {max_size[1]:,} px tall (TFDV)"
    alt = "image width and height distributions, and image formats"
    return Figure(IMAGE_SIZES_PNG, png, alt, caption + ".", wide=True)


def ordered(measurements: Sequence[Measurement]) -> list[Measurement]:
    """Drifted (flagged) first, then by how close each is to its threshold."""

    def closeness(m: Measurement) -> float:
        return m.value / m.threshold if m.threshold else 0.0

    return sorted(measurements, key=lambda m: (not m.flagged, -closeness(m), m.kind, m.feature))


def _overlay_png(m: Measurement, current: Named, baseline: Named, title: str) -> bytes | None:
    now, then = dist.find_feature(current.statistics, m.feature), dist.find_feature(baseline.statistics, m.feature)
    if now is None or then is None:
        return None
    if dist.is_numeric(now) and dist.is_numeric(then):
        series = {current.name: dist.standard_histogram(now), baseline.name: dist.standard_histogram(then)}
        return charts.histogram_overlay(series, title=title, xlabel=m.feature)
    if dist.is_categorical(now) and dist.is_categorical(then):
        series = {current.name: dist.value_shares(now), baseline.name: dist.value_shares(then)}
        pct = {name: {k: 100 * v for k, v in shares.items()} for name, shares in series.items()}
        return charts.bar_comparison(pct, title=title, ylabel="% of values")
    return None


def describe(m: Measurement, current: str, baseline: str) -> str:
    """The caption: the distance, the threshold, the comparator and the verdict."""
    verdict = "above the threshold: flagged" if m.flagged else "within the threshold"
    return (
        f"{m.feature}, {current} against {baseline}: {m.metric} distance {m.value:.4f} "
        f"({_COMPARATORS.get(m.kind, m.kind)}), threshold {m.threshold:g}, {verdict}."
    )


def _file_name(m: Measurement, taken: set[str]) -> str:
    stem = f"{m.kind}-{_UNSAFE.sub('_', m.feature) or 'feature'}"
    name, n = f"{stem}.png", 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}.png"
    taken.add(name)
    return name


def overlays(
    measurements: Sequence[Measurement], current: Named, previous: Named | None, serving: Named | None
) -> list[Figure]:
    """One overlay per measured feature: drift against the previous span, skew against serving data."""
    figures: list[Figure] = []
    taken: set[str] = set()
    for m in ordered(measurements)[:MAX_OVERLAYS]:
        baseline = previous if m.kind == checks.DRIFT else serving
        if baseline is None:
            continue
        status = "HIGH" if m.flagged else "ok"
        title = f"{m.feature}: {m.metric} {m.value:.3f} (threshold {m.threshold:g}) {status}"
        png = _overlay_png(m, current, baseline, title)
        if png is None:
            continue
        alt = f"{m.kind} of {m.feature}: {current.name} and {baseline.name} overlaid"
        caption = describe(m, current.name, baseline.name)
        figures.append(Figure(_file_name(m, taken), png, alt, caption, m.feature, m.kind, m.flagged))
    return figures
