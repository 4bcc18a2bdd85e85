"""report.html as a person opens it: scripts.validate_data on two spans, then the page in headless Chromium.

An image folder (the second span's class balance shifted, so the label's drift check fires,
and two bad files: a zero-byte one and a truncated JPEG) and a CSV span whose numeric
feature drifts. Through the DOM: the charts are embedded PNGs of real size (the same
bytes as the PNG files beside the page), there are thumbnails of every class, every bad
file is named with its reason, every drift check has its overlay (drifted first) with the
distance, the threshold and the comparator, and no meaningless row (byte-string top
values, the "avg length" of a scalar label) is left. Every page is self-contained: nothing
named from anywhere else, and the browser fetched nothing.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import validation_spans as spans
from browser import chromium_session, webdriver
from PIL import Image, ImageDraw
from support import run_script

pytestmark = pytest.mark.medium

SCRIPT = "scripts.validate_data"
IN_MEMORY = "--direct_running_mode=in_memory"
SIZES = ((32, 32), (48, 40), (40, 56))  # (width, height)
WIDTH = 1200  # the screenshot's width, as docs/images/ has it
MIN_THUMBNAILS = 3
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _shape(cls: str, i: int, rng: np.random.Generator) -> Image.Image:
    """A circle or a square in a random colour on a random background: a class a person can see."""
    width, height = SIZES[i % len(SIZES)]
    back, fore = (tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(2))
    image = Image.new("RGB", (width, height), back)
    box = (width // 5, height // 5, width - width // 5, height - height // 5)
    draw = ImageDraw.Draw(image)
    (draw.ellipse if cls == "circle" else draw.rectangle)(box, fill=fore)
    return image


def _image_folder(root: Path, counts: dict[str, int], seed: int) -> Path:
    """root/<class>/<class>_<i>.jpg|png, JPEG and PNG alternately, three sizes."""
    rng = np.random.default_rng(seed)
    for cls, n in counts.items():
        (root / cls).mkdir(parents=True)
        for i in range(n):
            fmt = ("JPEG", "jpg") if i % 2 == 0 else ("PNG", "png")
            _shape(cls, i, rng).save(root / cls / f"{cls}_{i:02d}.{fmt[1]}", format=fmt[0])
    return root


def _truncated_jpeg() -> bytes:
    buffer = io.BytesIO()
    _shape("square", 0, np.random.default_rng(9)).save(buffer, format="JPEG")
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


def _validate(data: Path, artifacts: Path, *more: str) -> tuple[int, str]:
    run = run_script(SCRIPT, f"--data={data}", f"--artifacts_dir={artifacts}", IN_MEMORY, *more)
    assert "Traceback" not in run.stderr, run.stderr
    return run.returncode, run.stdout


@pytest.fixture(scope="module")
def image_span(tmp_path_factory) -> dict:
    """Two image spans validated; the second (shifted balance, two bad files) is refused."""
    root = tmp_path_factory.mktemp("image_report")
    artifacts = root / "artifacts"
    first = _image_folder(root / "span0", {"circle": 12, "square": 12}, seed=0)
    assert _validate(first, artifacts)[0] == 0
    second = _image_folder(root / "span1", {"circle": 20, "square": 4}, seed=1)
    bad = {
        second / "square" / "empty.jpg": (b"", "zero bytes"),
        second / "circle" / "torn.jpg": (_truncated_jpeg(), "truncated JPEG"),
    }
    for path, (data, _) in bad.items():
        path.write_bytes(data)
    code, out = _validate(second, artifacts)
    assert code == 3 and "drift" in out and "bad records" in out, out
    return {"dir": artifacts / "spans" / "span-1", "bad": {str(p): reason for p, (_, reason) in bad.items()}}


@pytest.fixture(scope="module")
def csv_span(tmp_path_factory) -> Path:
    """Two CSV spans; in the second, x is shifted by two standard deviations, against the previous
    span (drift) and against serving data that is not (skew)."""
    root = tmp_path_factory.mktemp("csv_report")
    artifacts = root / "artifacts"
    assert _validate(spans.write_csv(root / "span0.csv", spans.rows(400, seed=0)), artifacts)[0] == 0
    serving = spans.write_csv(root / "serving.csv", spans.rows(400, seed=2, label=False))
    shifted = spans.write_csv(root / "span1.csv", spans.rows(400, seed=1, shift=2.0))
    code, out = _validate(shifted, artifacts, f"--serving_data={serving}")
    assert code == 3 and "drift  x" in out and "skew   x" in out, out
    return artifacts / "spans" / "span-1"


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """One headless Chromium for the module (conftest's ``browser`` is one per test)."""
    with chromium_session(tmp_path_factory.mktemp("chromium")) as session:
        yield session


# What the page holds, read through the DOM after the browser laid it out.
_PAGE_SCRIPT = """
const imgs = (root, css) => [...root.querySelectorAll(css)].map(i => ({
    src: i.getAttribute('src'), width: i.naturalWidth, height: i.naturalHeight, alt: i.alt, complete: i.complete}));
const figures = [...document.querySelectorAll('#drift figure[data-feature]')].map(f => ({
    feature: f.dataset.feature, kind: f.dataset.kind, flagged: f.classList.contains('flagged'),
    caption: f.querySelector('figcaption').innerText, img: imgs(f, 'img')[0]}));
return {
    text: document.body.innerText,
    sections: [...document.querySelectorAll('section')].map(s => s.id),
    balance: imgs(document, '#class-balance img.chart'),
    sizes: imgs(document, '#image-sizes img.chart'),
    thumbnails: Object.fromEntries([...document.querySelectorAll('#thumbnails .thumbs')].map(
        d => [d.dataset.class, imgs(d, 'img')])),
    bad: [...document.querySelectorAll('#bad-files li')].map(li => li.innerText),
    overlays: figures,
    fetched: performance.getEntriesByType('resource').map(e => e.name),
};
"""


def _open(chromium, page: Path, screenshot: Path) -> dict:
    """The page by file://, as a person opens it; a full-page screenshot; what the DOM holds."""
    port, session = chromium
    webdriver(port, "POST", f"/session/{session}/window/rect", {"width": WIDTH, "height": 900})
    webdriver(port, "POST", f"/session/{session}/url", {"url": page.as_uri()})
    script = {"script": "return document.documentElement.scrollHeight", "args": []}
    height = webdriver(port, "POST", f"/session/{session}/execute/sync", script)
    webdriver(port, "POST", f"/session/{session}/window/rect", {"width": WIDTH, "height": min(height + 140, 8000)})
    screenshot.write_bytes(base64.b64decode(webdriver(port, "GET", f"/session/{session}/screenshot")))
    assert screenshot.read_bytes().startswith(PNG_MAGIC) and screenshot.stat().st_size > 20_000
    return webdriver(port, "POST", f"/session/{session}/execute/sync", {"script": _PAGE_SCRIPT, "args": []})


# Anything a page could load from elsewhere: a script, a stylesheet, an import, a font, an image, a frame.
_EXTERNAL = (
    re.compile(r"<script\b[^>]*\bsrc\s*=", re.I),
    re.compile(r"<link\b", re.I),
    re.compile(r"@import", re.I),
    re.compile(r"\burl\((?!\s*['\"]?data:)", re.I),
    # An attribute in a tag (a script's own `img.src = ...` is the page's, not a load from elsewhere).
    re.compile(r"<[a-z][^>]*\s(?:src|href|srcset|poster|action|data)\s*=(?!\s*['\"]?(?:data:|#))", re.I),
    re.compile(r"<(?:iframe|object|embed)\b", re.I),
)


def assert_self_contained(page: str, name: str) -> None:
    for pattern in _EXTERNAL:
        found = pattern.search(page)
        assert found is None, (
            f"{name} loads something from elsewhere: ...{page[max(0, found.start() - 80) : found.end() + 80]}..."
        )


def _chart_ok(img: dict, span_dir: Path, file_name: str) -> None:
    """An embedded PNG of real size, the same bytes as the file written beside the page."""
    assert img["src"].startswith("data:image/png;base64,"), img["src"][:60]
    assert img["complete"] and img["width"] >= 300 and img["height"] >= 150, img | {"src": img["src"][:40]}
    png = base64.b64decode(img["src"].split(",", 1)[1])
    assert png.startswith(PNG_MAGIC) and png == (span_dir / file_name).read_bytes(), file_name


def test_the_image_folder_report_shows_balance_sizes_thumbnails_bad_files_and_drift(image_span, chromium, tmp_path):
    span_dir = image_span["dir"]
    page = _open(chromium, span_dir / "report.html", tmp_path / "image_report.png")
    assert page["fetched"] == [], page["fetched"]
    # Class balance beside the previous accepted span, image sizes and formats.
    (balance,) = page["balance"]
    _chart_ok(balance, span_dir, "class_balance.png")
    assert "span 1" in balance["alt"] and "previous span 0" in balance["alt"]
    (sizes,) = page["sizes"]
    _chart_ok(sizes, span_dir, "image_sizes.png")
    assert "all 24 readable images" in page["text"]
    # A few thumbnails per class, downscaled inline JPEGs that the browser decoded.
    assert set(page["thumbnails"]) == {"circle", "square"}
    for cls, thumbs in page["thumbnails"].items():
        assert len(thumbs) >= MIN_THUMBNAILS, (cls, len(thumbs))
        for t in thumbs:
            assert t["src"].startswith("data:image/jpeg;base64,") and t["width"] >= 24 and t["height"] >= 24, t["alt"]
            assert t["alt"].startswith(cls), t["alt"]
    # Every bad file named, with its reason.
    assert len(page["bad"]) == len(image_span["bad"]), page["bad"]
    for path, reason in image_span["bad"].items():
        assert any(line.startswith(f"{path}: {reason}") for line in page["bad"]), (path, page["bad"])
    # The label's drift, by eye: both spans' shares, the distance, the threshold, the comparator.
    (overlay,) = page["overlays"]
    assert overlay["feature"] == "label" and overlay["kind"] == "drift" and overlay["flagged"], overlay
    _chart_ok(overlay["img"], span_dir, "drift-label.png")
    caption = overlay["caption"]
    assert "span 1 against previous span 0" in caption and "L-infinity distance 0.3333" in caption, caption
    assert "drift_comparator" in caption and "threshold 0.1" in caption and "flagged" in caption, caption
    # No meaningless rows.
    assert "__BYTES_VALUE__" not in page["text"] and "avg length" not in page["text"]
    assert "(encoded images)" in page["text"]


def test_the_csv_report_overlays_every_checked_feature_drifted_first(csv_span, chromium, tmp_path):
    page = _open(chromium, csv_span / "report.html", tmp_path / "csv_report.png")
    assert page["fetched"] == [], page["fetched"]
    overlays = page["overlays"]
    # Every feature with a drift check (x, n numeric; c, label categorical) and a skew check (not
    # the label, which serving data has not): the two flagged ones (x) first.
    drawn = sorted((o["kind"], o["feature"]) for o in overlays)
    assert drawn == [("drift", f) for f in ("c", "label", "n", "x")] + [("skew", f) for f in ("c", "n", "x")], drawn
    assert {(o["kind"], o["feature"]) for o in overlays[:2]} == {("drift", "x"), ("skew", "x")}, overlays[:2]
    assert all(o["flagged"] for o in overlays[:2]) and not any(o["flagged"] for o in overlays[2:]), overlays
    for o in overlays:
        _chart_ok(o["img"], csv_span, f"{o['kind']}-{o['feature']}.png")
        against = "previous span 0" if o["kind"] == "drift" else "serving data"
        pattern = (
            rf"span 1 against {against}: (Jensen-Shannon|L-infinity) distance \d\.\d{{4}} \({o['kind']}_comparator\), "
        )
        assert re.search(pattern + r"threshold 0\.1, ", o["caption"]), o["caption"]
        numeric = o["feature"] in ("x", "n")
        assert ("Jensen-Shannon" if numeric else "L-infinity") in o["caption"], o["caption"]
    assert "flagged" in overlays[0]["caption"] and "within the threshold" in overlays[-1]["caption"]
    # The class balance of the integer label, beside the previous span; no image sections.
    (balance,) = page["balance"]
    _chart_ok(balance, csv_span, "class_balance.png")
    assert page["sizes"] == [] and "thumbnails" not in page["sections"] and "image-sizes" not in page["sections"]
    assert "avg length" not in page["text"] and "__BYTES_VALUE__" not in page["text"]


def test_every_page_kestrel_writes_is_self_contained(image_span, csv_span):
    """No page loads anything from elsewhere, and no facets.html (blank offline) is written."""
    pages = [p for d in (image_span["dir"], csv_span) for p in d.parent.rglob("*.html")]
    assert sorted(p.name for p in pages) == ["report.html"] * 4, pages
    for path in pages:
        assert_self_contained(path.read_text(), str(path))
    for span_dir in (image_span["dir"], csv_span):
        result = json.loads((span_dir / "result.json").read_text())
        assert "facets_html" not in result["paths"] and not (span_dir / "facets.html").exists()


def test_the_self_contained_check_catches_what_a_page_could_load():
    """The check itself: each way a page reaches out is caught; data: URIs and anchors are not."""
    for bad in (
        "<script src='https://cdn.example/x.js'></script>",
        "<link rel='stylesheet' href='style.css'>",
        "<style>@import 'x.css';</style>",
        '<div style="background: url(https://x/y.png)"></div>',
        "<img src='chart.png'>",
        "<iframe srcdoc=''></iframe>",
    ):
        with pytest.raises(AssertionError):
            assert_self_contained(f"<html><body>{bad}</body></html>", bad)
    assert_self_contained("<img src='data:image/png;base64,AAAA'><a href='#drift'>drift</a>", "fine")
