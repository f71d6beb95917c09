"""A real server and a real browser for the scanner page's tests.

The app runs on its own copy of the demo database (SQLite or PostgreSQL, as the suite) in a
werkzeug server thread on 127.0.0.1, with CSRF protection on. The browser is Debian's
Chromium driven by Playwright, its camera a y4m video (tests/browser/harness.py). These
tests are never skipped: without /usr/bin/chromium they fail, saying what is missing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright
from werkzeug.serving import make_server

from qrservice import db
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, LiveServer
from tests.conftest import make_app


@pytest.fixture
def live_server(data_dir: Path) -> Iterator[LiveServer]:
    app = make_app(data_dir, WTF_CSRF_ENABLED=True)
    seen: list[tuple[str, str]] = []
    inner = app.wsgi_app

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")))
        return inner(environ, start_response)

    app.wsgi_app = recording  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        db.engine_of(app).dispose()


@pytest.fixture
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package (scripts/check does); "
            "the scanner's browser tests need a real browser and are never skipped"
        )
    with sync_playwright() as p:
        yield p


@pytest.fixture
def launch_browser(playwright: Playwright) -> Iterator[Callable[[Path], Browser]]:
    """Starts Chromium whose camera plays the given y4m video; closed after the test."""
    browsers: list[Browser] = []

    def launch(video: Path) -> Browser:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={video}"],
        )
        browsers.append(browser)
        return browser

    try:
        yield launch
    finally:
        for browser in browsers:
            browser.close()
