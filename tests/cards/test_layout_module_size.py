"""Every badge layout prints card codes with modules of at least 0.6 mm, as the README promises;
a stock that would print them smaller is refused instead of shrunk."""

from __future__ import annotations

import re
import zlib
from datetime import date

import pytest

from cards.layouts import (
    A4_MM,
    CODE_WIDTH_MM,
    INCH_MM,
    LAYOUTS,
    LETTER_MM,
    Layout,
    LayoutError,
)
from cards.pdf import CODE_BOX, CardFace, card_code, render_badge_sheet
from cards.qr import MIN_MODULE_MM

#: Card URLs from a short base URL to a long one (the token adds 38 to 45 characters).
BASES = (
    "https://a.cn",
    "http://127.0.0.1:5000",
    "https://cards.example.org",
    "https://dangjian.example-city.gov.cn",
    "https://members.organisation-name.example.org:8443",
)
TOKEN = "1.c.k1.2n9c.1.AAAAAAAAAAAAAAAAAAAAAA"
PT_PER_MM = 72 / 25.4


def test_the_layouts_code_width_is_the_cards_code_box() -> None:
    assert CODE_BOX.width == CODE_WIDTH_MM


@pytest.mark.parametrize("name", sorted(LAYOUTS))
@pytest.mark.parametrize("base", BASES)
def test_every_layout_keeps_card_code_modules_at_least_0_6_mm(name: str, base: str) -> None:
    matrix = card_code(f"{base}/c/{TOKEN}")
    assert LAYOUTS[name].module_mm(matrix.size) >= MIN_MODULE_MM


def _printed_modules_mm(pdf: bytes) -> list[float]:
    """Module sizes (mm) of the codes drawn in ``pdf``: each code's own unit times the badge's
    scale, read from the page's drawing operators."""
    sizes = []
    for raw in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            ops = zlib.decompress(raw).decode("latin-1")
        except zlib.error:
            continue
        scale = 1.0
        for line in ops.splitlines():
            badge = re.fullmatch(r"([\d.]+) 0 0 \1 [\d.-]+ [\d.-]+ cm", line)
            if badge:
                scale = float(badge.group(1))
            code = re.match(r"q ([\d.]+) 0 0 \1 [\d.-]+ [\d.-]+ cm 0 g", line)
            if code:
                sizes.append(float(code.group(1)) * scale / PT_PER_MM)
    return sizes


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_badge_sheet_pdf_draws_modules_of_at_least_0_6_mm(name: str) -> None:
    lay = LAYOUTS[name]
    faces = [
        CardFace(
            "示范党委",
            "王洋",
            "20260001",
            "机关第一党支部",
            f"{base}/c/{TOKEN}",
            date(2026, 1, 1),
            1,
        )
        for base in BASES
    ]
    sizes = _printed_modules_mm(render_badge_sheet(faces, lay, processes=1))
    assert len(sizes) == len(faces)
    assert min(sizes) >= MIN_MODULE_MM, f"{name}: modules of {min(sizes):.3f} mm"


@pytest.mark.parametrize(
    ("name", "page", "cell", "margins"),
    [
        ("avery-l7414", A4_MM, (90.0, 52.0), (15.0, 18.5)),
        ("avery-5371", LETTER_MM, (3.5 * INCH_MM, 2.0 * INCH_MM), (0.75 * INCH_MM, 0.5 * INCH_MM)),
    ],
)
def test_stock_that_would_shrink_modules_under_0_6_mm_is_refused(
    name: str, page: tuple[float, float], cell: tuple[float, float], margins: tuple[float, float]
) -> None:
    with pytest.raises(LayoutError, match=r"modules of 0\.5\d\d mm, under 0\.6 mm"):
        Layout(
            name=name, description=name, page_size=page, columns=2, rows=5,
            cell_width=cell[0], cell_height=cell[1], margin_left=margins[0], margin_top=margins[1],
        )  # fmt: skip


def test_us_letter_is_still_offered_at_full_size() -> None:
    letter = [lay for lay in LAYOUTS.values() if lay.page_size == LETTER_MM]
    assert letter and all(lay.badge_scale == 1.0 for lay in letter)
