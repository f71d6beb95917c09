"""The meeting's on-screen code on a 1366 x 768 projector, in a real Chromium: no site header,
nothing to scroll, the code whole on screen and read from a screenshot, the Chinese title drawn
with real glyphs (Debian's fonts-wqy-microhei or fonts-noto-cjk; scripts/check installs one)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import zxingcpp
from PIL import Image, ImageChops
from playwright.sync_api import Browser

from qrservice.demo import SECRETARY_PASSWORD
from tests.browser.harness import LiveServer, PageErrors, log_in, write_y4m
from tests.scanhelpers import open_meeting_id

PROJECTOR = {"width": 1366, "height": 768}


def test_on_screen_code_fills_a_1366x768_projector_without_the_site_header(
    launch_browser: Callable[[Path], Browser], live_server: LiveServer, tmp_path: Path
) -> None:
    browser = launch_browser(write_y4m(tmp_path / "blank.y4m", None, frames=1))
    context = browser.new_context(locale="zh-CN", viewport=PROJECTOR)
    page = context.new_page()
    errors = PageErrors(page)
    path = f"/meetings/{open_meeting_id(live_server.app)}/screen"
    log_in(page, live_server.url, path, "secretary1", SECRETARY_PASSWORD)

    assert page.locator("header.top").count() == 0
    assert page.locator("nav").count() == 0
    scroll = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert scroll[0] <= PROJECTOR["width"] and scroll[1] <= PROJECTOR["height"], scroll
    box = page.locator(".screenqr svg").bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= PROJECTOR["width"]
    assert box["y"] + box["height"] <= PROJECTOR["height"]
    assert box["height"] >= 0.7 * PROJECTOR["height"], box  # big enough to scan from the back

    shot = Image.open(io.BytesIO(page.screenshot(path=tmp_path / "projector.png"))).convert("L")
    assert shot.size == (PROJECTOR["width"], PROJECTOR["height"])
    codes = [r.text for r in zxingcpp.read_barcodes(shot)]
    assert len(codes) == 1 and "/m/" in codes[0], codes

    # Two different Chinese characters are drawn differently: real glyphs, not empty boxes.
    page.evaluate(
        """() => {
        for (const [id, text] of [['g1', '党'], ['g2', '日']]) {
            const el = document.createElement('span');
            el.id = id; el.textContent = text;
            el.style.cssText = 'position:fixed;top:0;left:0;font-size:48px;background:#fff';
            document.body.appendChild(el);
        }
        document.getElementById('g2').style.left = '100px';
    }"""
    )
    first = Image.open(io.BytesIO(page.locator("#g1").screenshot())).convert("L")
    second = Image.open(io.BytesIO(page.locator("#g2").screenshot())).convert("L")
    size = (min(first.width, second.width), min(first.height, second.height))
    diff = ImageChops.difference(first.crop((0, 0, *size)), second.crop((0, 0, *size)))
    assert diff.getbbox() is not None, "Chinese characters render as identical boxes: no CJK font"
    assert errors.errors == []
