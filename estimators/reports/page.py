"""The one report kit: the HTML shell, PNGs embedded as data: URIs, tables, and report.json beside them.

Every task's report and the serving page are built from it. A report page is
self-contained: its PNGs are embedded, so it opens anywhere (a bucket, an
attachment) without its folder and without network.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import os
from collections.abc import Callable
from typing import Any

import tensorflow as tf

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
CURVES_PNG = "curves.png"  # written by estimators.reports.curves beside the others
CURVES_FIGURE = ("learning curves", CURVES_PNG)  # every task's page shows them first

_BODY_STYLE = "body{font-family:sans-serif;margin:2em;max-width:1100px}"
_TABLE_STYLE = (
    " table{border-collapse:collapse}\n"
    "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right} td:first-child{text-align:left}"
)
_FIGURE_STYLE = (
    "\nfigure{{display:inline-block;vertical-align:top;margin:1em 1em 0 0}} img{{max-width:100%;max-height:{height}px}}"
)


@dataclasses.dataclass(frozen=True)
class Table:
    """A captioned table: the header's cells and each row's, as text (escaped here)."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(cell)}</th>" for cell in self.header)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self.rows)
        return f"<h2>{html.escape(self.caption)}</h2>\n<table><tr>{head}</tr>{rows}</table>\n"


@dataclasses.dataclass(frozen=True)
class PerClass:
    """A measure of each class (IoU, AP): printed under the report's lines, and the page's "per class" table."""

    measure: str
    class_names: tuple[str, ...]
    values: tuple[float, ...]

    def lines(self) -> list[str]:
        """The printed table: a header, then each class's name and its measure, to three decimals."""
        width = max(5, *(len(n) for n in self.class_names))
        rows = (f"{name:<{width}}  {value:.3f}" for name, value in self._rows())
        return [f"{'class':<{width}}  {self.measure}", *rows]

    def table(self) -> Table:
        """The page's table: each class's name and its measure, to three decimals."""
        return Table("per class", ("class", self.measure), tuple((n, f"{v:.3f}") for n, v in self._rows()))

    def _rows(self):
        return zip(self.class_names, self.values, strict=True)


def document(title: str, style: str, body: str, lang: str = "") -> str:
    """The HTML shell every page shares: doctype, charset, title (escaped by the caller), one style, the body."""
    lang_attr = f' lang="{lang}"' if lang else ""
    return (
        f'<!doctype html>\n<html{lang_attr}><head><meta charset="utf-8"><title>{title}</title>\n'
        f"<style>{style}</style></head>\n<body>{body}</body></html>\n"
    )


def report_page(title: str, summary: str, figures: str, image_height: int = 380, table: Table | None = None) -> str:
    """A report: the title, a summary paragraph (HTML), the embedded figures, then the table if any."""
    style = _BODY_STYLE + (_TABLE_STYLE if table else "") + _FIGURE_STYLE.format(height=image_height)
    escaped = html.escape(title)
    body = f"<h1>{escaped}</h1>\n<p>{summary}</p>\n{figures}\n" + (table.html() if table else "")
    return document(escaped, style, body)


@dataclasses.dataclass(frozen=True)
class Figure:
    """A task's own figure on its page, after the learning curves: its caption, its PNG file in the report
    folder, and the height the page shows it at."""

    caption: str
    png: str
    height: int = 380

    def write_files(self, directory: str, report, png: bytes | None) -> str:
        """Any task's report record as report.json and, where drawn, this figure's ``png`` in ``directory``;
        returns it."""
        return write_files(directory, report, {} if png is None else {self.png: png})


def write_report_page(directory: str, title: str, summary: str, figure: Figure, table: Table | None = None) -> str:
    """A task's ``report_page``, written in ``directory`` as report.html: its learning curves, then its own
    ``figure``, both from ``directory``."""
    figures = figures_html(directory, (CURVES_FIGURE, (figure.caption, figure.png)))
    return write_page(directory, report_page(title, summary, figures, figure.height, table))


def evaluation_summary(split: str, figures: str) -> str:
    """A page's summary paragraph: the split it evaluates (escaped here), then ``figures`` (HTML)."""
    return f"evaluation on <b>{html.escape(split)}</b>: {figures}"


def text_summary(text: str) -> str:
    """A report's printed lines as the page's summary paragraph."""
    return html.escape(text).replace("\n", "<br>")


@dataclasses.dataclass(frozen=True)
class PrintedReport:
    """How a report is written whose page summary is its printed lines (``format()``) and whose one figure is
    drawn from the report alone: the plug-in's ``write`` and ``page`` of a task's Evaluation."""

    figure: Figure
    draw: Callable[[Any], bytes]  # the report -> the figure's PNG

    def write_report(self, report, directory: str) -> str:
        """report.json and the figure's PNG in ``directory``; returns the directory."""
        return self.figure.write_files(directory, report, self.draw(report))

    def write_html(self, report, directory: str, title: str) -> str:
        """report.html: the printed lines, the learning curves and the figure, self-contained."""
        return write_report_page(directory, title, text_summary(report.format()), self.figure)


def write_page(directory: str, page: str) -> str:
    """``page`` as ``directory``/report.html; returns its path."""
    path = os.path.join(directory, REPORT_HTML)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(page)
    return path


def write_files(directory: str, report, pngs: dict[str, bytes]) -> str:
    """Any task's report record as report.json, and its PNGs by file name, in ``directory``; returns it."""
    tf.io.gfile.makedirs(directory)
    with tf.io.gfile.GFile(os.path.join(directory, REPORT_JSON), "w") as f:
        json.dump(dataclasses.asdict(report), f, indent=2)
    for name, data in pngs.items():
        with tf.io.gfile.GFile(os.path.join(directory, name), "wb") as f:
            f.write(data)
    return directory


def pyplot():
    """matplotlib.pyplot on the Agg backend: no display, the figures only ever become PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig, dpi: int = 100) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def figures_html(directory: str, figures: tuple[tuple[str, str], ...]) -> str:
    """The (caption, PNG file) figures of ``directory`` that exist, embedded as data: URIs."""
    return "".join(
        f'<figure><img alt="{alt}" src="data:image/png;base64,{data}"><figcaption>{alt}</figcaption></figure>'
        for alt, data in ((alt, _png_base64(directory, name)) for alt, name in figures)
        if data
    )


def _png_base64(directory: str, name: str) -> str:
    path = os.path.join(directory, name)
    if not tf.io.gfile.exists(path):
        return ""
    with tf.io.gfile.GFile(path, "rb") as f:
        return base64.b64encode(f.read()).decode()
