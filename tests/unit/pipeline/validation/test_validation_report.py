"""The gate's report.html tables: what was found and what was measured, or the one line that says there is none."""

from __future__ import annotations

import pytest

from pipeline.validation import report
from pipeline.validation.checks import Finding, Measurement

pytestmark = pytest.mark.small


def test_findings_are_a_table_of_escaped_text_columns_or_a_clean_line():
    assert report._findings_html([]) == '<p class="ok">No anomalies, drift or skew.</p>'
    assert report._findings_html([Finding("drift", "a<b", "too far")]) == (
        "<table><tr><th class='l'>kind</th><th class='l'>feature</th><th class='l'>description</th></tr>"
        "<tr><td class='l'>drift</td><td class='l'>a&lt;b</td><td class='l'>too far</td></tr></table>"
    )


def test_measurements_are_a_table_with_text_then_number_columns_flagged_first():
    assert report._measurements_html([]).startswith("<p>No drift or skew measured (")
    html = report._measurements_html(
        [Measurement("skew", "x", "L-infinity", 0.05, 0.1), Measurement("drift", "y", "Jensen-Shannon", 0.2, 0.1)]
    )
    head = (
        "<table><tr><th class='l'>check</th><th class='l'>feature</th><th class='l'>metric</th><th>value</th>"
        "<th>threshold</th><th>status</th></tr>"
    )
    assert html.startswith(head + "<tr class='warn'><td class='l'>drift</td>") and html.endswith("</tr></table>")
    assert html.count("<tr") == 3 and "<td class='bad'>HIGH</td>" in html and "<td class='ok'>ok</td>" in html
