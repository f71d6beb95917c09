"""Badge sheet layouts: every badge on its page and in its cell; impossible layouts refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PIL import Image, ImageDraw

from cards.layouts import (
    A4_MM,
    CARD_HEIGHT_MM,
    CARD_WIDTH_MM,
    LAYOUTS,
    Layout,
    LayoutError,
    Rect,
    get_layout,
)
from cards.pdf import CardFace, card_codes, render_badge_sheet
from tests.cards.pdfcheck import decode_all, mm_to_px


def layout(**changes: object) -> Layout:
    values: dict[str, object] = {
        "name": "test",
        "description": "test stock",
        "page_size": A4_MM,
        "columns": 2,
        "rows": 5,
        "cell_width": 85.0,
        "cell_height": 54.0,
        "margin_left": 15.0,
        "margin_top": 13.5,
        "gap_x": 10.0,
        "gap_y": 0.0,
    }
    values.update(changes)
    return Layout(**values)  # type: ignore[arg-type]


def test_there_are_plain_paper_label_stock_and_us_letter_layouts() -> None:
    assert "a4-10" in LAYOUTS and LAYOUTS["a4-10"].crop_marks
    assert LAYOUTS["a4-10"].per_page == 10
    a4_stocks = [lay for lay in LAYOUTS.values() if lay.page_size == A4_MM and not lay.crop_marks]
    assert len(a4_stocks) >= 2
    assert any(lay.page_size == (215.9, 279.4) for lay in LAYOUTS.values())


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_badge_is_inside_the_page_and_inside_its_cell(name: str) -> None:
    lay = LAYOUTS[name]
    cells, badges = lay.cells(), lay.badges()
    assert len(cells) == len(badges) == lay.columns * lay.rows
    for cell, badge in zip(cells, badges, strict=True):
        assert lay.page.contains(cell)
        assert cell.contains(badge)
        assert badge.width / badge.height == pytest.approx(CARD_WIDTH_MM / CARD_HEIGHT_MM)
    for index, badge in enumerate(badges):
        for other in badges[index + 1 :]:
            assert not badge.overlaps(other)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_crop_marks_stay_in_the_margins(name: str) -> None:
    lay = LAYOUTS[name]
    lines = lay.crop_mark_lines()
    assert bool(lines) == lay.crop_marks
    badges = lay.badges()
    edges_x = {round(v, 3) for b in badges for v in (b.x, b.right)}
    edges_y = {round(v, 3) for b in badges for v in (b.y, b.top)}
    for x1, y1, x2, y2 in lines:
        segment = Rect(min(x1, x2), min(y1, y2), abs(x2 - x1), abs(y2 - y1))
        assert lay.page.contains(segment)
        assert not any(badge.overlaps(segment) for badge in badges)
        # Each mark continues a cut line: a badge edge.
        assert (x1 == x2 and round(x1, 3) in edges_x) or (y1 == y2 and round(y1, 3) in edges_y)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"columns": 3}, "page is 210 mm wide"),
        ({"rows": 6}, "page is 297 mm high"),
        ({"margin_left": 45.0}, "page is 210 mm wide"),
        ({"gap_y": 6.0}, "page is 297 mm high"),
        ({"cell_width": 70.0, "gap_x": 20.0}, "does not fit cells of 70 x 54 mm"),
        ({"cell_height": 40.0}, "does not fit cells of 85 x 40 mm"),
        ({"crop_marks": True, "margin_left": 5.0}, "crop marks need margins"),
        ({"columns": 0}, "at least one column"),
        ({"gap_x": -1.0}, "cannot be negative"),
    ],
)
def test_impossible_layout_is_refused_with_a_clear_message(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(LayoutError, match=message):
        layout(**changes)


def test_a_new_stock_is_a_few_lines() -> None:
    stock = layout(name="a4-2x5-85x54-copy")
    assert stock.per_page == 10
    assert stock.badge_scale == pytest.approx(85.0 / CARD_WIDTH_MM)


def test_unknown_layout_name_lists_the_valid_names(make_face: Callable[..., CardFace]) -> None:
    with pytest.raises(LayoutError, match="valid layouts: .*a4-10"):
        get_layout("a4-12")
    with pytest.raises(LayoutError, match="unknown layout 'a4-12'"):
        render_badge_sheet([make_face()], "a4-12")


def _allowed_ink(lay: Layout, size: tuple[int, int], dpi: int) -> Image.Image:
    """White where ink may be (badges, crop marks, each grown by antialiasing), black elsewhere."""
    mask = Image.new("1", size, 0)
    draw = ImageDraw.Draw(mask)
    height = size[1]
    pad = 2

    def box(x1: float, y1: float, x2: float, y2: float) -> None:
        left, right = sorted((mm_to_px(x1, dpi), mm_to_px(x2, dpi)))
        low, high = sorted((mm_to_px(y1, dpi), mm_to_px(y2, dpi)))
        draw.rectangle((left - pad, height - high - pad, right + pad, height - low + pad), fill=1)

    for badge in lay.badges():
        box(badge.x, badge.y, badge.right, badge.top)
    for x1, y1, x2, y2 in lay.crop_mark_lines():
        box(x1, y1, x2, y2)
    return mask


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_drawn_page_has_ink_only_on_badges_and_crop_marks(
    name: str, make_face: Callable[..., CardFace], rasterise: Callable[..., list[Image.Image]]
) -> None:
    lay = LAYOUTS[name]
    dpi = 150
    # Long texts everywhere: whatever overflows a badge would show outside it.
    faces = [
        make_face(
            i,
            member_name="欧阳" + "明" * 40,
            org_name="中华示例协会 " * 12,
            branch_name="Branch " * 20,
            member_number="9" * 60,
        )
        for i in range(lay.per_page)
    ]
    faces = [
        CardFace(**{**face.__dict__, "qr": code})
        for face, code in zip(faces, card_codes([f.url for f in faces], processes=1), strict=True)
    ]
    (page,) = rasterise(render_badge_sheet(faces, lay), dpi)
    width_mm, height_mm = lay.page_size
    assert page.width == pytest.approx(mm_to_px(width_mm, dpi), abs=1)
    assert page.height == pytest.approx(mm_to_px(height_mm, dpi), abs=1)
    dark = page.point(lambda v: 255 if v < 160 else 0).convert("1")
    allowed = _allowed_ink(lay, page.size, dpi)
    stray = Image.composite(Image.new("1", page.size, 0), dark, allowed)
    assert stray.getbbox() is None, f"ink outside the badges at {stray.getbbox()}"
    if lay.crop_marks:
        assert dark.getbbox()[0] < mm_to_px(min(b.x for b in lay.badges()), dpi)
    # Every badge's code decodes, and sits in that badge's own cell.
    results = decode_all(page)
    assert len(results) == lay.per_page
    height = page.height
    for result in results:
        centre_x = sum(p.x for p in (result.position.top_left, result.position.bottom_right)) / 2
        centre_y = sum(p.y for p in (result.position.top_left, result.position.bottom_right)) / 2
        x_mm = centre_x / dpi * 25.4
        y_mm = (height - centre_y) / dpi * 25.4
        (index,) = [
            i for i, badge in enumerate(lay.badges()) if badge.contains(Rect(x_mm, y_mm, 0, 0))
        ]
        assert result.text == faces[index].url
