"""<model_dir>/report/report.html, opened in headless Chromium as a user opens it: scores, curves, confusion matrix."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
from browser import webdriver

pytestmark = pytest.mark.medium

# What the page shows: its images (decoded, with their size), the per-class table's rows, its text.
_PAGE = """
const images = [...document.images].map(i => ({alt: i.alt, width: i.naturalWidth, height: i.naturalHeight,
                                             inline: i.src.startsWith('data:image/png;base64,')}));
return {images, rows: document.querySelectorAll('table tr').length, text: document.body.innerText,
        external: [...document.querySelectorAll('[src],[href]')].map(e => e.src || e.href)
                  .filter(u => !u.startsWith('data:'))};
"""


def test_the_training_report_page_shows_curves_confusion_and_scores_offline(trained_digits, browser, tmp_path):
    # A copy of the page alone, away from its PNGs: it must not need them (or the network).
    page = tmp_path / "moved" / "report.html"
    page.parent.mkdir()
    shutil.copy(Path(trained_digits.report_dir) / "report.html", page)
    port, session = browser
    webdriver(port, "POST", f"/session/{session}/window/rect", {"width": 1200, "height": 1400})
    webdriver(port, "POST", f"/session/{session}/url", {"url": page.as_uri()})
    shown = webdriver(port, "POST", f"/session/{session}/execute/sync", {"script": _PAGE, "args": []})

    assert [image["alt"] for image in shown["images"]] == ["learning curves", "confusion matrix"]
    assert all(image["inline"] and image["width"] >= 300 and image["height"] >= 200 for image in shown["images"])
    assert shown["rows"] == 1 + 10  # the header and one row per digit class
    assert f"accuracy {trained_digits.accuracy:.4f} over 360 examples" in shown["text"]
    assert shown["external"] == []
    shot = tmp_path / "report.png"
    shot.write_bytes(base64.b64decode(webdriver(port, "GET", f"/session/{session}/screenshot")))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
