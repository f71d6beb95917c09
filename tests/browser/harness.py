"""What the scanner's browser tests share besides fixtures: the live server's record, a fake
camera video and a photo of a card, page error collection, and logging in through the form.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import segno
from flask import Flask
from PIL import Image
from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
VIDEO_SIZE = (640, 480)


@dataclass
class LiveServer:
    url: str
    app: Flask
    #: (method, path) of every request that reached the server, in order.
    requests: list[tuple[str, str]] = field(default_factory=list)


def qr_image(text: str, box: int) -> Image.Image:
    """The QR code of ``text`` (with its quiet zone), about ``box`` pixels wide, in greyscale."""
    qr = segno.make(text, error="m")
    width = qr.symbol_size(scale=1)[0]
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=max(1, box // width))
    buffer.seek(0)
    return Image.open(buffer).convert("L")


def card_photo(text: str) -> bytes:
    """A PNG like a phone photo of a card: the code, off-centre, on a light grey page."""
    page = Image.new("L", (900, 700), 235)
    page.paste(qr_image(text, 330), (140, 120))
    buffer = io.BytesIO()
    page.save(buffer, format="PNG")
    return buffer.getvalue()


def write_y4m(path: Path, text: str | None, frames: int = 5) -> Path:
    """A fake-camera video: a white 640x480 picture with the code of ``text`` in its middle.

    YUV 4:2:0, so each frame is the Y plane plus two quarter-size chroma planes (128: no colour).
    Chromium plays the file in a loop.
    """
    w, h = VIDEO_SIZE
    picture = Image.new("L", VIDEO_SIZE, 255)
    if text is not None:
        code = qr_image(text, 400)
        picture.paste(code, ((w - code.width) // 2, (h - code.height) // 2))
    luma = picture.tobytes()
    chroma = bytes([128]) * ((w // 2) * (h // 2))
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            f.write(b"FRAME\n" + luma + chroma + chroma)
    return path


class PageErrors:
    """Uncaught script errors and CSP violations of a page: a test ends by asserting none."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(f"csp: {message.text}")


def log_in(page: Page, base_url: str, path: str, username: str, password: str) -> None:
    """Log in through the form, which then sends the browser on to ``path``.

    (The scanner page no longer sends to the login form by itself: without a session it is the
    paired device's page.)"""
    page.goto(base_url + "/login?next=" + quote(path))
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form button[type=submit]")
    page.wait_for_url(base_url + path)
