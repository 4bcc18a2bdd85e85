"""The validation report's charts as PNG bytes: matplotlib on the Agg backend, no TensorFlow.

Every function takes plain numbers (``distributions.py`` reads them from the
statistics protos) and returns one PNG, which the report writes beside
report.html and embeds in the page as a ``data:`` URI.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # no display: the figures only ever become files

# isort: split

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# The current span first (blue), then what it is compared with (orange): the same on every chart.
COLORS = ("#4a78c2", "#e8833a", "#5aa55a", "#9b59b6")
DPI = 100
# Categories shown on a bar chart; the rest are summed into one bar so a wide vocabulary stays readable.
MAX_BARS = 20


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _natural(name: str) -> tuple:
    """Classes 2, 10 and cat in that order: numbers by value, then names."""
    try:
        return (0, float(name), "")
    except ValueError:
        return (1, 0.0, name)


def _top_categories(series: Mapping[str, Mapping[str, float]]) -> list[str]:
    """The categories with the largest share in any series, in their natural order."""
    best: dict[str, float] = {}
    for values in series.values():
        for name, share in values.items():
            best[name] = max(best.get(name, 0.0), share)
    return sorted(sorted(best, key=lambda name: (-best[name], name))[:MAX_BARS], key=_natural)


def _legend(ax, top: float) -> None:
    """Above the bars, never over them."""
    ax.set_ylim(0, top * 1.3 if top > 0 else 1)
    ax.legend(loc="upper right", ncol=2, frameon=False)


def bar_comparison(
    series: Mapping[str, Mapping[str, float]],
    *,
    title: str,
    ylabel: str,
    width: float = 5.2,
) -> bytes:
    """Grouped bars: one group per category, one bar per series (this span, the previous span...)."""
    categories = _top_categories(series)
    shown = list(categories)
    if any(set(values) - set(categories) for values in series.values()):
        shown.append("(others)")
    fig, ax = plt.subplots(figsize=(max(width, 0.4 * len(shown) * len(series)), 2.8))
    x = np.arange(len(shown))
    bar = 0.8 / max(len(series), 1)
    top = 0.0
    for i, (name, values) in enumerate(series.items()):
        heights = [values.get(c, 0.0) for c in categories]
        if len(shown) > len(categories):
            heights.append(sum(v for c, v in values.items() if c not in categories))
        offset = (i - (len(series) - 1) / 2) * bar
        ax.bar(x + offset, heights, bar, label=name, color=COLORS[i % len(COLORS)])
        top = max(top, *heights, 0.0)
    ax.set_xticks(x, shown, rotation=30 if len(shown) > 6 else 0, ha="right" if len(shown) > 6 else "center")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    _legend(ax, top)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


Bucket = tuple[float, float, float]  # (low, high, count)


def _densities(buckets: Sequence[Bucket]) -> tuple[np.ndarray, np.ndarray]:
    """Bucket edges and the density in each bucket (the area sums to 1 whatever the bucket widths)."""
    total = sum(count for _, _, count in buckets) or 1.0
    edges = np.array([buckets[0][0]] + [high for _, high, _ in buckets], dtype=float)
    widths = np.maximum(np.diff(edges), 1e-12)
    return edges, np.array([count for _, _, count in buckets], dtype=float) / total / widths


def histogram_overlay(series: Mapping[str, Sequence[Bucket]], *, title: str, xlabel: str) -> bytes:
    """Each series' histogram as a density, drawn over the others: two spans with different bucket
    edges still compare, since the area under each is 1."""
    fig, ax = plt.subplots(figsize=(5.2, 2.8))
    top = 0.0
    for i, (name, buckets) in enumerate(series.items()):
        if not buckets:
            continue
        edges, density = _densities(buckets)
        color = COLORS[i % len(COLORS)]
        ax.stairs(density, edges, fill=True, alpha=0.35, color=color)
        ax.stairs(density, edges, color=color, linewidth=1.5, label=name)
        top = max(top, float(density.max()))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    _legend(ax, top)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _counts(ax, values: Sequence[int], name: str) -> None:
    """A bar per size when there are few, else a histogram: 16 and 20 px are not a range."""
    distinct = sorted(set(values))
    if len(distinct) <= 12:
        labels = [str(v) for v in distinct]
        ax.bar(labels, [values.count(v) for v in distinct], color=COLORS[0])
    else:
        ax.hist(values, bins=20, color=COLORS[0])
    ax.set_xlabel(f"{name} (pixels)")
    ax.set_ylabel("images")
    ax.set_title(f"{name}: {_range(values)}")


def image_sizes(widths: Sequence[int], heights: Sequence[int], formats: Mapping[str, int]) -> bytes:
    """Width and height distributions and the count of each image format, side by side."""
    fig, axes = plt.subplots(1, 3, figsize=(10.4, 2.8), layout="constrained")
    _counts(axes[0], list(widths), "width")
    _counts(axes[1], list(heights), "height")
    names = sorted(formats, key=lambda f: (-formats[f], f))
    axes[2].bar(names, [formats[f] for f in names], color=COLORS[1])
    axes[2].set_ylabel("images")
    axes[2].set_title("format")
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _range(values: Sequence[int]) -> str:
    if not values:
        return "none"
    low, high = min(values), max(values)
    return f"{low} px" if low == high else f"{low}..{high} px"
