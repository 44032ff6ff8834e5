"""The HTML report in a real browser: Debian's headless Chromium loads it, its DOM
holds the report with hostile data as text, and its screenshot is a drawn page.

Chromium is required, never skipped: CI installs it (.ci/setup), and without
it nothing shows that the page renders at all.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from sample_results import ROOT, sample_results, with_report_layout

from gacert.report.html import render_html
from gacert.report.render import render_ga_day

WIDTH, HEIGHT = 1200, 1600


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed (apt-get install chromium); the HTML report "
                    "test needs a real browser", pytrace=False)
    return found


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The shipped policy's report layout: its 20 sections, with hostile data.
    document = with_report_layout(sample_results(hostile=True), ROOT / "policies" / "ga.yaml")
    path = tmp_path_factory.mktemp("html") / "GA_DAY_REPORT.html"
    path.write_text(render_html(document, render_ga_day(document)), encoding="utf-8")
    return path


def headless(chromium: str, page: Path, profile: Path, *mode: str) -> bytes:
    """Run Chromium once on the page, isolated, offline, bounded in time."""
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={profile}", "--hide-scrollbars",
               f"--window-size={WIDTH},{HEIGHT}", *mode, page.as_uri()]
    proc = subprocess.run(command, capture_output=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc.stdout


def test_chromium_builds_the_page_with_hostile_data_as_text(chromium: str, page: Path,
                                                            tmp_path: Path) -> None:
    dom = headless(chromium, page, tmp_path / "profile", "--dump-dom").decode()
    assert '<header class="verdict verdict-fail">' in dom
    assert re.search(r"<h2 id=\"1-executive-summary\">", dom)
    # Scripts and images from label values stay text: the DOM has no such element.
    assert "<script" not in dom.lower()
    assert "<img" not in dom.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert dom.count('<figure class="chart"') == 2
    assert dom.count("<polyline") >= 5


def _png(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed image data of a PNG file."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    position, idat = 8, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        if kind == b"IDAT":
            idat += data[position + 8:position + 8 + length]
        position += 12 + length
    return width, height, zlib.decompress(idat)


def test_chromium_draws_the_page(chromium: str, page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    headless(chromium, page, tmp_path / "profile", f"--screenshot={shot}")
    width, height, pixels = _png(shot)
    assert (width, height) == (WIDTH, HEIGHT)
    # A drawn page has text, colours and lines: far from one flat colour.
    assert len(set(pixels)) > 100
    assert len(pixels) > width * height  # one byte per pixel at least
