"""Fixtures for the cards tests: a key ring, card faces, and PDF tools bound to tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from cards.pdf import CardFace
from cards.tokens import KeyRing, SigningKey, card_url, sign_card
from tests.cards.pdfcheck import pdf_fonts, pdf_text, rasterise_pdf

BASE_URL = "https://card.example.org"


@pytest.fixture
def rasterise(tmp_path: Path) -> Callable[..., list[Image.Image]]:
    """rasterise(pdf_bytes, dpi=150) -> one greyscale image per page (one pdftoppm run)."""
    runs = iter(range(1_000_000))

    def run(pdf: bytes, dpi: int = 150) -> list[Image.Image]:
        return rasterise_pdf(pdf, dpi, tmp_path / f"raster-{next(runs)}")

    return run


@pytest.fixture
def text_of(tmp_path: Path) -> Callable[[bytes], str]:
    """text_of(pdf_bytes) -> the text pdftotext extracts, in reading layout."""
    return lambda pdf: pdf_text(pdf, tmp_path / "text")


@pytest.fixture
def fonts_of(tmp_path: Path) -> Callable[[bytes], list[dict[str, str]]]:
    return lambda pdf: pdf_fonts(pdf, tmp_path / "fonts")


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing([SigningKey("k1", "test-secret-0123456789abcdef")])


@pytest.fixture
def make_face(ring: KeyRing) -> Callable[..., CardFace]:
    def make(member_id: int = 1, **overrides: object) -> CardFace:
        values: dict[str, object] = {
            "org_name": "中华示例协会 Example Association",
            "member_name": "王小明",
            "member_number": f"{100000 + member_id}",
            "branch_name": "海淀支部 Haidian",
            "url": card_url(BASE_URL, sign_card(ring, member_id, 1)),
            "issued_on": date(2025, 3, 1),
            "version": 1,
        }
        values.update(overrides)
        return CardFace(**values)  # type: ignore[arg-type]

    return make
