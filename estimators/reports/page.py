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


def per_class_table(measure: str, class_names: tuple[str, ...], values) -> Table:
    """The "per class" table: each class's name and its ``measure`` (IoU, AP), to three decimals."""
    return Table(
        "per class", ("class", measure), tuple((n, f"{v:.3f}") for n, v in zip(class_names, values, strict=True))
    )


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


def write_report_page(
    directory: str,
    title: str,
    summary: str,
    figure: tuple[str, str],
    image_height: int = 380,
    table: Table | None = None,
) -> str:
    """A task's ``report_page``, written in ``directory`` as report.html: its learning curves, then its own
    (caption, PNG file) ``figure``, both from ``directory``."""
    figures = figures_html(directory, (CURVES_FIGURE, figure))
    return write_page(directory, report_page(title, summary, figures, image_height, table))


def text_summary(text: str) -> str:
    """A report's printed lines as the page's summary paragraph."""
    return html.escape(text).replace("\n", "<br>")


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
