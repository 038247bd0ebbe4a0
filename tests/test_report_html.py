"""HTML reports: self-contained, escaped, and rendered by a real headless browser."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.test_compare import NAMES, XSS, make_result, method_results
from vqeval.compare import Side, compare_sides
from vqeval.report.html import (
    render_compare_html,
    render_score_html,
    safe_image_uri,
    write_compare_html,
    write_score_html,
)
from vqeval.report.markdown import render_compare_markdown, render_score_markdown
from vqeval.report.plots import heatmap_data_uri, svg_ci_forest, svg_line, svg_strip

CHROMIUM = Path("/usr/bin/chromium")
SCRIPT_NAME = "<script>document.title='XSS'</script>"


class Tags(HTMLParser):
    """Collects every start tag with its attributes and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Tags:
    t = Tags()
    t.feed(html)
    return t


def score_results() -> list:
    rs = method_results("out/dense", NAMES[:4], 0.0, 1, series=True)
    rs.append(make_result(f"out/{XSS}.mp4", {"repetition": 40.0}, flags=("loop",), series=True))
    rs.append(make_result(f"out/{SCRIPT_NAME}.mp4", error=f"cannot decode {XSS}"))
    return rs


def assert_inert(html: str) -> Tags:
    """No script, no event handler, no resource outside data: URIs."""
    t = parse(html)
    names = [tag for tag, _ in t.tags]
    assert "script" not in names and "iframe" not in names and "object" not in names
    for tag, attrs in t.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        for key in ("src", "href", "xlink:href"):
            if attrs.get(key) is not None:
                assert (attrs[key] or "").startswith("data:image/"), (tag, attrs)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    return t


def test_score_html_escapes_names_and_errors() -> None:
    rs = score_results()
    html = render_score_html(rs)
    t = assert_inert(html)
    text = "".join(t.text)
    assert f"out/{XSS}.mp4" in text  # shown literally, as text
    assert f"cannot decode {XSS}" in text
    assert SCRIPT_NAME in text
    assert html.count('<tr class="video"') == len(rs)
    # 4 thumbnails + 1 heat map for each of the 5 videos with series
    assert sum(tag == "img" for tag, _ in t.tags) == 5 * 5


def test_compare_html_escapes_labels_and_keys() -> None:
    a = Side(XSS, "a", [make_result(f"a/{XSS}.mp4", {"repetition": 50.0}, series=True)], "a")
    b = Side("b", "b", [make_result(f"b/{XSS}.mp4", {"repetition": 60.0}, series=True)], "b")
    html = render_compare_html(compare_sides([a, b]))
    t = assert_inert(html)
    assert XSS in "".join(t.text)
    assert html.count('<tr class="pair">') == 1


def test_hostile_thumbnails_are_dropped() -> None:
    good = make_result("x.mp4", {"repetition": 50.0}, series=True).series["thumbnails"][0]
    assert safe_image_uri(good) == good
    for bad in (
        "javascript:alert(1)",
        "https://example.com/a.jpg",
        'data:image/jpeg;base64,AAAA" onerror="alert(1)',
        "data:text/html;base64,PHNjcmlwdD4=",
        None,
        42,
    ):
        assert safe_image_uri(bad) is None
    r = make_result("x.mp4", {"repetition": 50.0})
    r.series["thumbnails"] = ["https://example.com/a.jpg", 'x" onerror="alert(1)']
    t = assert_inert(render_score_html([r]))
    assert not [a for tag, a in t.tags if tag == "img"]


def test_markdown_reports_escape() -> None:
    md = render_score_markdown(score_results())
    assert XSS not in md and SCRIPT_NAME not in md
    assert "&lt;img src=x onerror=alert(1)&gt;" in md
    a = Side("dense", "out/dense", method_results("out/dense", NAMES, 0.0, 1), "out/dense")
    b = Side("lvsa", "out/lvsa", method_results("out/lvsa", NAMES, 8.0, 2), "out/lvsa")
    cmd = render_compare_markdown(compare_sides([a, b]))
    assert "## lvsa vs dense" in cmd and "better" in cmd and "n=2000" in cmd


def test_plots_are_valid_svg_and_png() -> None:
    for svg in (
        svg_line([0, 1, 2], [1.0, 2.0, 0.5], title="t <&>"),
        svg_strip([("a <b>", [10.0, 50.0]), ("c", [])]),
        svg_ci_forest(
            [("d", 1.0, -0.5, 2.0, "no significant difference"), ("e", None, None, None, "n/a")]
        ),
    ):
        assert svg is not None
        root = ET.fromstring(svg)  # well-formed XML: text is escaped
        assert root.tag.endswith("svg")
    assert svg_line([0], [1]) is None
    uri = heatmap_data_uri([[1.0, 0.0], [0.0, 1.0]])
    assert uri is not None and safe_image_uri(uri) == uri
    assert heatmap_data_uri([1, 2, 3]) is None
    assert heatmap_data_uri("not a matrix") is None


# --------------------------------------------------------------------------- browser


def chromium(args: list[str], tmp: Path, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


needs_browser = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium not installed")


@pytest.mark.browser
@needs_browser
def test_browser_renders_score_report(tmp_path: Path) -> None:
    rs = score_results()
    page = tmp_path / "report.html"
    write_score_html(rs, page)
    cp = chromium(["--dump-dom", page.as_uri()], tmp_path)
    assert cp.returncode == 0, cp.stderr[-2000:]
    dom = cp.stdout
    t = parse(dom)
    rows = [a for tag, a in t.tags if tag == "tr" and "video" in (a.get("class") or "").split()]
    assert len(rows) == len(rs)
    imgs = [a for tag, a in t.tags if tag == "img"]
    assert len(imgs) == 5 * 5
    assert all((a.get("src") or "").startswith("data:image/") for a in imgs)
    # the hostile names are shown as text and produced no element / handler / script run
    text = "".join(t.text)
    assert f"out/{XSS}.mp4" in text and SCRIPT_NAME in text
    assert not [a for _, a in t.tags if any(k.startswith("on") for k in a)]
    assert not [tag for tag, _ in t.tags if tag == "script"]
    title = dom.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title == "VQeval report"  # an executed payload would have changed it
    assert dom.count("<svg") >= len(rs)  # strip chart + motion curves


@pytest.mark.browser
@needs_browser
def test_browser_renders_compare_report_and_screenshot(tmp_path: Path) -> None:
    a = Side(
        "dense",
        "out/dense",
        method_results("out/dense", NAMES[:6], 0.0, 1, series=True),
        "out/dense",
    )
    b = Side(
        "lvsa", "out/lvsa", method_results("out/lvsa", NAMES[:6], 8.0, 2, series=True), "out/lvsa"
    )
    page = tmp_path / "compare.html"
    write_compare_html(compare_sides([a, b]), page)
    cp = chromium(["--dump-dom", page.as_uri()], tmp_path)
    assert cp.returncode == 0, cp.stderr[-2000:]
    t = parse(cp.stdout)
    pairs = [a for tag, a in t.tags if tag == "tr" and (a.get("class") or "") == "pair"]
    assert len(pairs) == 6
    # per pair and side: 4 thumbnails + 1 heat map
    assert sum(tag == "img" for tag, _ in t.tags) == 6 * 2 * 5
    shot = tmp_path / "shot.png"
    cp = chromium(
        ["--hide-scrollbars", "--window-size=1200,900", f"--screenshot={shot}", page.as_uri()],
        tmp_path,
    )
    assert cp.returncode == 0, cp.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1200, 900)
        # not a blank page: the report paints many distinct colours
        assert len(im.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 50
    assert shutil.which(str(CHROMIUM))
