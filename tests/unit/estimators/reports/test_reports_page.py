"""The report kit: one self-contained page shell, embedded PNGs, escaped tables."""

from __future__ import annotations

import base64
from pathlib import Path

from estimators.reports import page


def test_a_report_page_escapes_what_it_is_given_and_embeds_only_existing_pngs(tmp_path):
    png = b"\x89PNG curves"
    (tmp_path / page.CURVES_PNG).write_bytes(png)
    figures = page.figures_html(str(tmp_path), (("learning curves", page.CURVES_PNG), ("missing", "none.png")))
    table = page.Table("per class", ("class", "IoU"), (("<cat>", "0.500"),))
    html = page.report_page("run <1>", "mae <b>1</b>", figures, image_height=600, table=table)

    assert html.startswith('<!doctype html>\n<html><head><meta charset="utf-8"><title>run &lt;1&gt;</title>')
    assert "<h1>run &lt;1&gt;</h1>\n<p>mae <b>1</b></p>" in html  # the summary is the caller's HTML
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}"' in html
    assert "missing" not in html  # a figure whose PNG is absent is left out, not a broken image
    assert "<tr><td>&lt;cat&gt;</td><td>0.500</td></tr>" in html
    assert "max-height:600px" in html and "border-collapse" in html
    assert html.endswith("</table>\n</body></html>\n")


def test_the_per_class_table_names_each_class_and_its_measure_to_three_decimals():
    per_class = page.PerClass("IoU", ("cat", "dog"), (0.5, 0.12345))
    assert per_class.table() == page.Table("per class", ("class", "IoU"), (("cat", "0.500"), ("dog", "0.123")))
    assert per_class.lines() == ["class  IoU", "cat    0.500", "dog    0.123"]


def test_a_page_without_a_table_has_no_table_style():
    html = page.report_page("t", "s", "")
    assert "border-collapse" not in html and "max-height:380px" in html


def test_the_shell_takes_a_language():
    assert page.document("x", "", "", lang="en").startswith('<!doctype html>\n<html lang="en"><head>')


def test_text_summary_keeps_the_printed_lines_apart():
    assert page.text_summary("a < b\nc") == "a &lt; b<br>c"


def test_write_page_and_files(tmp_path):
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Report:
        split: str

    page.write_files(str(tmp_path / "r"), Report("test"), {"x.png": b"png"})
    path = page.write_page(str(tmp_path / "r"), "<p>")
    assert (tmp_path / "r" / page.REPORT_JSON).read_text() == '{\n  "split": "test"\n}'
    assert (tmp_path / "r" / "x.png").read_bytes() == b"png"
    assert path == str(tmp_path / "r" / page.REPORT_HTML)
    assert (tmp_path / "r" / page.REPORT_HTML).read_text() == "<p>"


def test_a_task_page_shows_the_learning_curves_before_its_own_figure(tmp_path):
    (tmp_path / "masks.png").write_bytes(b"masks")
    (tmp_path / page.CURVES_PNG).write_bytes(b"curves")
    path = page.write_report_page(
        str(tmp_path), "t", "s", page.Figure("true and predicted masks", "masks.png", height=600)
    )
    html = (tmp_path / page.REPORT_HTML).read_text()
    assert path == str(tmp_path / page.REPORT_HTML) and "max-height:600px" in html
    alts = [part.split('"')[0] for part in html.split('<img alt="')[1:]]
    assert alts == ["learning curves", "true and predicted masks"]


def test_a_printed_report_writes_its_record_its_figure_and_a_page_of_its_printed_lines(tmp_path):
    import dataclasses
    import json

    @dataclasses.dataclass(frozen=True)
    class Report:
        split: str

        def format(self) -> str:
            return f"evaluation on '{self.split}'\nsecond <line>"

    writer = page.PrintedReport(
        page.Figure("the figure", "figure.png", height=420), lambda r: b"png of " + r.split.encode()
    )
    assert writer.write_report(Report("test"), str(tmp_path)) == str(tmp_path)
    assert json.loads((tmp_path / page.REPORT_JSON).read_text()) == {"split": "test"}
    assert (tmp_path / "figure.png").read_bytes() == b"png of test"
    html = Path(writer.write_html(Report("test"), str(tmp_path), "t")).read_text()
    assert "<p>evaluation on &#x27;test&#x27;<br>second &lt;line&gt;</p>" in html
    assert 'alt="the figure"' in html and "max-height:420px" in html
